"""Customers' personal details are shown only to roles that need them (operator and up)."""

from __future__ import annotations

from typing import Any

from server.auth.roles import Principal

PERSONAL = ("customer_name", "customer_phone", "customer_address", "customer_account")


def redact_meter(row: dict[str, Any], principal: Principal) -> dict[str, Any]:
    if principal.can("operator"):
        return row
    return {k: (None if k in PERSONAL and v is not None else v) for k, v in row.items()}
