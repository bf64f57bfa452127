"""The chaos run at a reduced size (the full run is ``python -m tests.reliability.chaos``):
edge agents, server processes and the broker killed with ``kill -9`` at random moments, the
database restarted; every reading the edges committed is stored exactly once and the
success rate equals the simulators' ground truth after re-reading."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .chaos import TIMESCALE_SCRIPT, run, timescale_restarter

SIZE = {
    "gateways": int(os.environ.get("METERLINK_CHAOS_GATEWAYS", "2")),
    "per_gw": int(os.environ.get("METERLINK_CHAOS_METERS_PER_GATEWAY", "8")),
    "days": int(os.environ.get("METERLINK_CHAOS_DAYS", "2")),
}


def _script_serves(url: str) -> bool:
    """Whether ``url`` is the private server of deploy/scripts/timescaledb.sh (which the run
    may stop and start), not somebody else's."""
    st = subprocess.run(
        ["bash", str(TIMESCALE_SCRIPT), "status"], capture_output=True, text=True, timeout=60
    )
    return st.returncode == 0 and st.stdout.strip().splitlines()[-1].endswith("=" + url)


@pytest.mark.timeout(900)
def test_chaos_nothing_lost_nothing_doubled(timescale_admin_url: str, tmp_path: Path) -> None:
    if not _script_serves(timescale_admin_url):
        if os.environ.get("CI"):
            pytest.fail(
                "in CI the TimescaleDB server must be deploy/scripts/timescaledb.sh's, "
                "so that the chaos run can restart it"
            )
        pytest.skip(
            "METERLINK_TEST_TIMESCALE_URL is not the server of "
            "deploy/scripts/timescaledb.sh: the run may not restart it"
        )
    out = run(
        timescale_admin_url,
        **SIZE,
        speed=1440.0,
        chaos_every=(3.0, 7.0),
        restart_db=timescale_restarter(),
        seed=5,
        work_dir=tmp_path,
        settle_s=240,
    )
    print(out.summary())
    assert out.problems == [], "\n".join(out.problems)
    # the run did what it says: every kind of fault happened, and readings flowed
    assert {"edge kill -9", "server kill -9", "broker kill -9", "database restarts"} <= set(
        out.kills
    ), out.kills
    assert out.committed > 1000 and out.stored == out.committed
    assert (
        out.truth_meter_days
        == out.read_after_reread
        == SIZE["gateways"] * SIZE["per_gw"] * SIZE["days"]
    )
