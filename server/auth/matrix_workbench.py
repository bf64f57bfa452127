"""The role matrix's rows for the workbench (issue 19), merged into
:data:`server.auth.matrix.MATRIX`: everyone signed in reads the navigation, reports, failed
list, anomaly details, line loss and concentrators; operators act (re-read batches,
on-demand reads, anomaly assignment, comments and batch decisions)."""

from __future__ import annotations

from typing import Final

SIGNED_IN: Final = "viewer"
OPERATOR: Final = "operator"

WORKBENCH: Final[dict[tuple[str, str], str]] = {
    # navigation
    ("GET", "/api/org/tree"): SIGNED_IN,
    ("GET", "/api/org/areas"): SIGNED_IN,
    ("GET", "/api/org/areas/{area_id}/gateways"): SIGNED_IN,
    ("GET", "/api/org/gateways/{gateway_id}/meters"): SIGNED_IN,
    ("GET", "/api/search"): SIGNED_IN,
    # collection reports
    ("GET", "/api/reports/collection"): SIGNED_IN,
    ("GET", "/api/reports/collection/meters"): SIGNED_IN,
    ("GET", "/api/reports/collection/trend"): SIGNED_IN,
    ("GET", "/api/reports/collection/months"): SIGNED_IN,
    # failed meters, re-reading, on-demand reads
    ("GET", "/api/workbench/failed"): SIGNED_IN,
    ("POST", "/api/reread/batches"): OPERATOR,
    ("GET", "/api/reread/batches"): SIGNED_IN,
    ("GET", "/api/reread/batches/{batch_id}"): SIGNED_IN,
    ("POST", "/api/meters/{meter_id}/read-now"): OPERATOR,
    ("GET", "/api/meters/{meter_id}/read-now/{command_id}"): SIGNED_IN,
    # anomaly work
    ("GET", "/api/anomalies/stats"): SIGNED_IN,
    ("POST", "/api/anomalies/batch"): OPERATOR,
    ("GET", "/api/anomalies/{anomaly_id}"): SIGNED_IN,
    ("GET", "/api/anomalies/{anomaly_id}/history"): SIGNED_IN,
    ("POST", "/api/anomalies/{anomaly_id}/assign"): OPERATOR,
    ("POST", "/api/anomalies/{anomaly_id}/comments"): OPERATOR,
    # line loss
    ("GET", "/api/line-loss/areas"): SIGNED_IN,
    ("GET", "/api/line-loss/areas/{area_id}"): SIGNED_IN,
    ("GET", "/api/line-loss/areas/{area_id}/trend"): SIGNED_IN,
    ("GET", "/api/line-loss/areas/{area_id}/suspects"): SIGNED_IN,
    # concentrators
    ("GET", "/api/concentrators"): SIGNED_IN,
    ("GET", "/api/concentrators/{gateway_id}"): SIGNED_IN,
    # the command history
    ("GET", "/api/commands"): SIGNED_IN,
}
