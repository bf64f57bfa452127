"""The embedded broker's passwords: one secret, a password per user derived from it.

The secret is made at the first start in ``<data_dir>/broker_secret`` (mode 0600, like
``auth_secret``) and kept. A user's password is HMAC-SHA256(secret, user name) in hex, so
the server can tell any gateway its password (``meterlink-server broker-password GW``)
without keeping a list, and a gateway's password says nothing about another's or the
secret. Users are the server (:data:`server.broker_acl.SERVER_USER`) and each gateway by its
id; the log says when a secret is made, never a value.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

SECRET_FILE: Final[str] = "broker_secret"
MIN_SECRET_BYTES: Final[int] = 32
_LABEL: Final[bytes] = b"meterlink broker user\x00"  # keeps these MACs apart from any other use


class BrokerSecretError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerCredentials:
    secret: bytes = field(repr=False)

    def password(self, username: str) -> str:
        """The password of ``username`` (64 hex digits)."""
        return hmac.new(self.secret, _LABEL + username.encode(), hashlib.sha256).hexdigest()

    def verify(self, username: str | None, password: str | bytes | None) -> bool:
        """Whether ``password`` is ``username``'s (in constant time)."""
        if not username or password is None:
            return False
        given = password.encode() if isinstance(password, str) else bytes(password)
        return hmac.compare_digest(given, self.password(username).encode())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> BrokerCredentials:
        """The data folder's secret, made (0600) if there is none yet."""
        path = Path(data_dir) / SECRET_FILE
        if path.exists():
            value = path.read_bytes().strip()
            if len(value) < MIN_SECRET_BYTES:
                raise BrokerSecretError(
                    f"{path} holds a secret shorter than {MIN_SECRET_BYTES} bytes"
                )
            return cls(value)
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made meanwhile by another process: use that one
            return cls.load_or_create(data_dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(value)
        log.info("made the embedded broker's secret in %s", path)
        return cls(value)
