"""The token-signing secret: from settings, or generated once into the data folder.

A secret is never defaulted in code. When none is configured the server makes a random one
in ``<data_dir>/auth_secret`` (mode 0600) and reuses it on later starts, so tokens survive
a restart; the log says that it did, never the value.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32


class SecretConfigError(ValueError):
    pass


def load_or_create_secret(configured: str | None, data_dir: Path) -> bytes:
    if configured:
        value = configured.encode()
        if len(value) < MIN_SECRET_BYTES:
            raise SecretConfigError(
                f"auth_secret must have at least {MIN_SECRET_BYTES} characters"
                f" (it has {len(value)})"
            )
        return value
    path = Path(data_dir) / "auth_secret"
    if path.exists():
        value = path.read_bytes().strip()
        if len(value) < MIN_SECRET_BYTES:
            raise SecretConfigError(f"{path} holds a secret shorter than {MIN_SECRET_BYTES} bytes")
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    log.info("no auth_secret configured: generated a new one in %s", path)
    return value
