"""Expiring, HMAC-signed session tokens.

Layout: ``base64url(json claims) "." base64url(HMAC-SHA256(secret, first part))``. Claims:
``sub`` user name, ``gen`` the user's token generation (bumped on password change, role
change or disable, which revokes every older token), ``iat`` and ``exp`` (Unix seconds),
``jti`` a random id by which one token is revoked (sign-out). A token made before ``jti``
existed is known by its signature instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime


class TokenError(Exception):
    """A token that is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class Claims:
    username: str
    generation: int
    issued_at: int
    expires_at: int
    token_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def issue(secret: bytes, *, username: str, generation: int, now: datetime, ttl_s: int) -> str:
    iat = int(now.timestamp())
    body = _b64(
        json.dumps(
            {
                "sub": username,
                "gen": generation,
                "iat": iat,
                "exp": iat + ttl_s,
                "jti": secrets.token_urlsafe(16),
            },
            separators=(",", ":"),
        ).encode()
    )
    return f"{body}.{_sign(secret, body)}"


def verify(secret: bytes, token: str, *, now: datetime) -> Claims:
    if not token.isascii():
        raise TokenError("token is malformed: it must be ASCII")
    body, sep, sig = token.partition(".")
    if not sep or not body or not sig:
        raise TokenError("token is malformed")
    if not hmac.compare_digest(_sign(secret, body), sig):
        raise TokenError("token signature is not valid")
    try:
        raw = json.loads(_unb64(body))
        claims = Claims(
            str(raw["sub"]),
            int(raw["gen"]),
            int(raw["iat"]),
            int(raw["exp"]),
            str(raw.get("jti") or sig),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TokenError("token claims are malformed") from exc
    if int(now.timestamp()) >= claims.expires_at:
        raise TokenError("token has expired")
    return claims
