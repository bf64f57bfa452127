"""Tokens expire and cannot be forged; passwords are stored as Argon2 hashes only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.auth import passwords, tokens
from server.auth.roles import Principal, role_at_least
from server.auth.secret import SecretConfigError, load_or_create_secret

SECRET = b"k" * 48
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_token_round_trip_carries_user_and_generation() -> None:
    tok = tokens.issue(SECRET, username="li.wei", generation=3, now=NOW, ttl_s=600)
    claims = tokens.verify(SECRET, tok, now=NOW + timedelta(seconds=599))
    assert (claims.username, claims.generation) == ("li.wei", 3)
    assert claims.expires_at - claims.issued_at == 600


def test_expired_token_is_refused() -> None:
    tok = tokens.issue(SECRET, username="li.wei", generation=0, now=NOW, ttl_s=600)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(SECRET, tok, now=NOW + timedelta(seconds=600))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "e30" + t[3:],  # body changed
        lambda t: t.replace(".", ""),  # no separator
        lambda t: "",
    ],
)
def test_forged_or_malformed_token_is_refused(mangle) -> None:  # noqa: ANN001
    tok = tokens.issue(SECRET, username="li.wei", generation=0, now=NOW, ttl_s=600)
    with pytest.raises(tokens.TokenError):
        tokens.verify(SECRET, mangle(tok), now=NOW)


def test_token_signed_with_another_secret_is_refused() -> None:
    tok = tokens.issue(b"x" * 48, username="admin", generation=0, now=NOW, ttl_s=600)
    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.verify(SECRET, tok, now=NOW)


def test_password_hash_is_argon2_and_verifies() -> None:
    h = passwords.hash_password("correct horse")
    assert h.startswith("$argon2id$") and "correct horse" not in h
    assert passwords.verify_password(h, "correct horse")
    assert not passwords.verify_password(h, "wrong horse")
    assert not passwords.verify_password("not-a-hash", "correct horse")


def test_short_password_is_refused() -> None:
    with pytest.raises(passwords.WeakPasswordError, match="at least 12"):
        passwords.hash_password("short")


def test_roles_are_ordered() -> None:
    assert role_at_least("admin", "operator") and role_at_least("operator", "viewer")
    assert not role_at_least("viewer", "operator")
    assert not Principal("v", "viewer").can("admin")
    with pytest.raises(ValueError, match="not one of"):
        role_at_least("root", "viewer")


def test_secret_is_generated_once_with_private_mode(tmp_path) -> None:  # noqa: ANN001
    first = load_or_create_secret(None, tmp_path)
    assert len(first) >= 32
    assert (tmp_path / "auth_secret").stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(None, tmp_path) == first
    with pytest.raises(SecretConfigError, match="at least 32"):
        load_or_create_secret("too-short", tmp_path)
