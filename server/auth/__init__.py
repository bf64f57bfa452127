"""Who may do what: users, password hashing, expiring tokens, and the role dependency.

Roles are ordered ``viewer < operator < admin``: a viewer reads, an operator acts on the
data (re-reads, anomaly status), an admin changes the archive, rule parameters and users.
"""

from server.auth.roles import ROLES, Principal, role_at_least

__all__ = ["ROLES", "Principal", "role_at_least"]
