"""Password hashing with Argon2id (argon2-cffi); the password itself is never stored."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()

MIN_LENGTH = 8


class WeakPasswordError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"password must have at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


@cache
def dummy_hash() -> str:
    """A valid hash of a fixed password, verified against when the user does not exist so a
    wrong user name costs the same time as a wrong password. Computed on first use (an
    Argon2 hash takes tens of milliseconds and memory: not something importing should do)."""
    return _HASHER.hash("meterlink-no-such-user-timing-guard")
