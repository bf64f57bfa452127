"""Shared fixtures: real PostgreSQL, TimescaleDB and MQTT broker found from the environment.

Environment variables (all optional on a laptop):

- ``METERLINK_TEST_PG_URL``: an admin URL of a PostgreSQL server where the tests may create
  and drop databases (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
- ``METERLINK_TEST_TIMESCALE_URL``: the same for a server with the ``timescaledb`` extension
  available (``.ci/run`` provisions one with ``deploy/scripts/timescaledb.sh``).
- ``METERLINK_TEST_MQTT_URL``: ``mqtt://host:port`` of a broker (default
  ``mqtt://127.0.0.1:1883``).

When a service is absent the tests that need it skip with the reason, except when ``CI`` is
set (as ``.ci/run`` does): there a missing service fails the test, so a green CI run means
every database and broker path really ran.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"service required in CI is missing: {reason}")
    pytest.skip(reason)


def _with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def _admin_connect(url: str):  # noqa: ANN202 - psycopg connection
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("METERLINK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with _admin_connect(url) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        _missing(f"PostgreSQL not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def timescale_admin_url() -> str:
    url = os.environ.get("METERLINK_TEST_TIMESCALE_URL", "")
    if not url:
        _missing(
            "METERLINK_TEST_TIMESCALE_URL is not set (deploy/scripts/timescaledb.sh starts one)"
        )
    try:
        with _admin_connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
    except Exception as exc:  # noqa: BLE001
        _missing(f"TimescaleDB server not reachable at {url}: {exc}")
    if not row or row[0] == 0:
        _missing(f"server at {url} has no timescaledb extension available")
    return url


def _fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin_connect(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_dbname(admin_url, name)
    finally:
        with _admin_connect(admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """URL of a new, empty database on plain PostgreSQL, dropped after the test."""
    yield from _fresh_database(pg_admin_url, "mltest_pg")


@pytest.fixture
def timescale_url(timescale_admin_url: str) -> Iterator[str]:
    """URL of a new, empty database on TimescaleDB (extension available, not yet created)."""
    yield from _fresh_database(timescale_admin_url, "mltest_ts")


@pytest.fixture(params=["postgres", "timescale"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once on plain PostgreSQL and once on TimescaleDB."""
    if request.param == "postgres":
        admin = request.getfixturevalue("pg_admin_url")
    else:
        admin = request.getfixturevalue("timescale_admin_url")
    yield from _fresh_database(admin, f"mltest_{request.param[:2]}")


@dataclass(frozen=True)
class Broker:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@pytest.fixture(scope="session")
def mqtt_broker() -> Broker:
    url = os.environ.get("METERLINK_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 1883
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as exc:
        _missing(f"MQTT broker not reachable at {url}: {exc}")
    return Broker(host, port)


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic root so tests sharing one broker never see each other's messages."""
    return f"mltest-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    """A free TCP port on loopback (for servers a test starts itself)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateBroker:
    """A Mosquitto of the test's own on a fixed loopback port, to stop and start at will
    (broker outages). No queue limits, nothing kept on disk unless ``persist``."""

    def __init__(self, workdir: str, port: int | None = None, persist: bool = False) -> None:
        import shutil

        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = port or free_port()
        self.workdir = workdir
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        import time

        conf = os.path.join(self.workdir, f"mosquitto-{self.port}.conf")
        with open(conf, "w") as fh:
            fh.write(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                "max_queued_messages 0\nmax_inflight_messages 0\n"
                f"persistence {'true' if self.persist else 'false'}\n"
                f"persistence_location {self.workdir}/\n"
            )
        self.proc = subprocess.Popen(
            [self.binary, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"private mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


@pytest.fixture
def private_broker(tmp_path: object) -> Iterator[PrivateBroker]:
    import shutil

    if shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
        _missing("the mosquitto binary is not installed (Debian package mosquitto)")
    broker = PrivateBroker(str(tmp_path))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# --------------------------------------------------------------------------- markers, header

#: Fixtures that mean "this test needs that service": the markers follow from them, so
#: ``-m "not postgres"`` (or ``not mqtt``, ``not timescale``, ``not slow``) selects honestly.
_SERVICE_FIXTURES = {
    "postgres": {"pg_admin_url", "pg_url"},
    "timescale": {"timescale_admin_url", "timescale_url"},
    "mqtt": {"mqtt_broker", "private_broker"},
}
#: Whole folders of long end-to-end runs.
_SLOW_FOLDERS = ("accuracy", "reliability", "demo")


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Collect garbage when each test ends, so a socket or file a test left open is reported
    (an unraisable ResourceWarning, an error here) by the test that leaked it, not by
    whichever later test happens to trigger the collector."""
    yield
    gc.collect()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in _SERVICE_FIXTURES.items():
            if names & fixtures:
                item.add_marker(marker)
        if "db_url" in names:
            callspec = getattr(item, "callspec", None)
            flavour = callspec.params.get("db_url") if callspec else None
            item.add_marker("timescale" if flavour == "timescale" else "postgres")
        if any(f"tests/{folder}/" in item.nodeid for folder in _SLOW_FOLDERS):
            item.add_marker("slow")


def _reachable(url: str, default_port: int) -> str:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1):
            return f"{host}:{port} reachable"
    except OSError as exc:
        return f"{host}:{port} NOT reachable ({exc.strerror or exc})"


def pytest_report_header(config: pytest.Config) -> list[str]:
    pg = os.environ.get("METERLINK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    ts = os.environ.get("METERLINK_TEST_TIMESCALE_URL")
    mq = os.environ.get("METERLINK_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    missing = "fail" if IN_CI else "skip"
    return [
        f"meterlink services (tests that need a missing one {missing}):",
        f"  PostgreSQL  {_reachable(pg, 5432)}",
        "  TimescaleDB "
        + (_reachable(ts, 5432) if ts else "not configured (METERLINK_TEST_TIMESCALE_URL)"),
        f"  MQTT broker {_reachable(mq, 1883)}",
    ]
