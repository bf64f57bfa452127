"""Password hashing with Argon2id (argon2-cffi) and the password policy; the password itself
is never stored.

The policy (:func:`check_policy`): at least :data:`MIN_LENGTH` characters, not only
whitespace, not one character repeated, not in the list of common passwords shipped beside
this module (compared without regard to case). Every way a password is set (admin create and
reset, a user's own change, the CLI, the bootstrap admin) goes through :func:`hash_password`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()

MIN_LENGTH = 12
MAX_LENGTH = 1024


class WeakPasswordError(ValueError):
    """The password breaks a rule of the policy; the message names the rule."""


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("server.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(f"password must have at most {MAX_LENGTH} characters")
    if not password.strip():
        raise WeakPasswordError("password must not be only whitespace")
    if len(set(password)) == 1:
        raise WeakPasswordError("password must not be one character repeated")
    if password.strip().lower() in common_passwords():
        raise WeakPasswordError("password is on the list of common passwords")


def hash_password(password: str) -> str:
    check_policy(password)
    return _HASHER.hash(password)


def rehash(password: str) -> str:
    """A fresh hash of a password already accepted (on sign-in, when the parameters changed);
    the policy is not applied again, so an older password keeps working."""
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
