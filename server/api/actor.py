"""Who did it, for the audit log."""

from server.auth.roles import Principal


def current_actor(principal: Principal) -> str:
    return principal.username
