"""The workbench's rooms (issue 19), included by :func:`server.api.app.create_app` in one
place: navigation (org), collection reports, failed meters with re-read batches and
on-demand reads, anomaly work, line loss, concentrators, the command history. Shared pieces:
:mod:`server.api.workbench`; roles: :mod:`server.auth.matrix_workbench`."""

from __future__ import annotations

from fastapi import APIRouter


def workbench_routers() -> list[APIRouter]:
    from . import (
        command_history,
        concentrators,
        line_loss,
        org,
        reports,
        workbench_anomalies,
        workbench_failed,
    )

    return [
        org.router,
        reports.router,
        workbench_failed.router,
        workbench_anomalies.router,
        line_loss.router,
        concentrators.router,
        command_history.router,
    ]
