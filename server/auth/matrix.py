"""The role matrix: the least role each HTTP operation needs, as data.

A viewer reads (customers' personal details hidden, :mod:`server.api.privacy`); an operator
acts on the data (re-reads, on-demand reads and other gateway commands, the anomaly workflow,
exports without personal details); an admin changes the archive (meters, areas, gateways,
org units, the import), rule parameters and users, and reads the audit log.

:data:`MATRIX` is enforced for every API route by :func:`server.api.access.guard` (an
operation missing from it is refused to everyone) and walked operation by operation, for
every role, by ``tests/security/test_role_matrix.py``. :data:`PUBLIC` marks what needs no
sign-in. A row may name an operation the application does not (yet) have.
"""

from __future__ import annotations

from typing import Final

from .matrix_workbench import WORKBENCH

PUBLIC: Final = "public"
SIGNED_IN: Final = "viewer"  # the lowest role: anyone signed in
OPERATOR: Final = "operator"
ADMIN: Final = "admin"

_ARCHIVE = ("/api/org-units", "/api/areas", "/api/gateways", "/api/meters")


def _archive_rows() -> dict[tuple[str, str], str]:
    rows: dict[tuple[str, str], str] = {}
    for base in _ARCHIVE:
        rows[("GET", base)] = SIGNED_IN
        rows[("GET", f"{base}/{{key}}")] = SIGNED_IN
        rows[("PUT", f"{base}/{{key}}")] = ADMIN
        rows[("DELETE", f"{base}/{{key}}")] = ADMIN
    rows[("PATCH", "/api/meters/{key}")] = ADMIN
    rows[("POST", "/api/archive/import")] = ADMIN
    rows[("GET", "/api/archive/template")] = ADMIN
    return rows


#: (method, path template as routed) -> least role, or PUBLIC
MATRIX: Final[dict[tuple[str, str], str]] = {
    # open: probes, metrics for the scraper, signing in
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    # the dashboard's page (its data comes from the API, under the rows below)
    ("GET", "/"): PUBLIC,
    ("GET", "/ui/"): PUBLIC,
    # one's own session
    ("POST", "/api/auth/logout"): SIGNED_IN,
    ("POST", "/api/auth/password"): SIGNED_IN,
    ("GET", "/api/auth/me"): SIGNED_IN,
    # users and the audit log
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("PATCH", "/api/users/{username}"): ADMIN,
    ("POST", "/api/users/{username}/unlock"): ADMIN,
    ("GET", "/api/audit"): ADMIN,
    # the archive: everyone reads, admins change
    **_archive_rows(),
    # readings
    ("GET", "/api/meters/{meter}/curve"): SIGNED_IN,
    ("GET", "/api/meters/{meter}/latest"): SIGNED_IN,
    ("GET", "/api/meters/{meter}/freeze"): SIGNED_IN,
    ("GET", "/api/meters/{meter}/readings"): SIGNED_IN,
    ("GET", "/api/meters/{meter}/events"): SIGNED_IN,
    # ingestion and gateways
    ("GET", "/api/dead-letters"): OPERATOR,  # raw payloads as they came
    ("GET", "/api/quarantine"): SIGNED_IN,
    ("GET", "/api/conflicts"): SIGNED_IN,
    ("GET", "/api/gateway-status"): SIGNED_IN,
    ("POST", "/api/gateways/{gateway}/commands"): OPERATOR,
    ("GET", "/api/gateways/{gateway}/commands"): SIGNED_IN,
    ("GET", "/api/commands/{cmd_id}"): SIGNED_IN,
    # reports
    ("GET", "/api/completeness"): SIGNED_IN,
    ("GET", "/api/completeness/report"): SIGNED_IN,
    ("GET", "/api/completeness/trend"): SIGNED_IN,
    ("GET", "/api/failed-meters"): SIGNED_IN,
    ("GET", "/api/curve-completeness"): SIGNED_IN,
    ("GET", "/api/line-loss"): SIGNED_IN,
    ("GET", "/api/jobs/runs"): SIGNED_IN,
    # acting on the data
    ("POST", "/api/reread"): OPERATOR,
    ("GET", "/api/anomalies"): SIGNED_IN,
    ("POST", "/api/anomalies/{anomaly_id}/status"): OPERATOR,
    ("POST", "/api/checks/run"): OPERATOR,
    # rules
    ("GET", "/api/rules"): SIGNED_IN,
    ("GET", "/api/rule-params"): SIGNED_IN,
    ("PUT", "/api/rule-params/{rule}"): ADMIN,
    # the workbench (issue 19)
    **WORKBENCH,
}


def needed_role(method: str, path: str) -> str | None:
    """The least role for an operation (or :data:`PUBLIC`); None when the matrix does not
    name it (and so nobody may call it)."""
    return MATRIX.get((method.upper(), path))
