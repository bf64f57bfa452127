"""The three roles and the signed-in principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ROLES: Final[tuple[str, ...]] = ("viewer", "operator", "admin")
_RANK: Final[dict[str, int]] = {name: i for i, name in enumerate(ROLES)}


def check_role(role: str) -> str:
    if role not in _RANK:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def role_at_least(role: str, needed: str) -> bool:
    return _RANK[check_role(role)] >= _RANK[check_role(needed)]


@dataclass(frozen=True)
class Principal:
    username: str
    role: str

    def can(self, needed: str) -> bool:
        return role_at_least(self.role, needed)
