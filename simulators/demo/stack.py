"""The demo's running parts: the server, the simulated fleet and an edge agent per
concentrator, started in order and stopped in reverse, leaving nothing running.

The server runs in this process (uvicorn in a thread) because the demo's edge agents need
the address of the broker it embeds, which only the server knows; the stack reads that
address and the HTTP port, nothing else of the server. The stack owns no conversation
with the server: that is :mod:`simulators.demo.script`, over HTTP.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge.agent import Agent
from edge.config import config_from_dict
from simulators.clock import VirtualClock
from simulators.fleet import Fleet
from simulators.harness import RunningFleet, edge_config_dict, running_fleet

log = logging.getLogger("meterlink.demo")


def admin_password(data_dir: Path) -> str:
    """The demo admin's password, made once and kept (mode 600) in ``data_dir``. The file is
    created private (no moment, and no crash, leaves the password readable by others) and
    only if it does not exist yet (never through a link someone else put there)."""
    path = data_dir / "admin_password"
    if path.exists():
        return path.read_text().strip()
    pw = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pw + "\n")
    return pw


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there on loopback, else any free port."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_of(bus: str) -> str:
    """The concentrator a fleet bus belongs to (``GW01-rs485-1`` -> ``GW01``)."""
    return bus.split("-rs485")[0].split("-modbus")[0]


class DemoServer:
    """The central server on ``127.0.0.1:port`` in a thread (embedded database and broker
    unless URLs are given)."""

    def __init__(
        self,
        *,
        data_dir: Path,
        port: int,
        password: str,
        database_url: str | None,
        mqtt_url: str | None,
    ) -> None:
        import uvicorn

        from server.api.app import create_app
        from server.settings import Settings

        settings = Settings(
            database_url=database_url,
            mqtt_url=mqtt_url,
            data_dir=data_dir / "server",
            http_port=port,
            admin_password=password,  # type: ignore[arg-type]
        )
        self.port = port
        self._data_dir = settings.data_dir
        self._embedded_broker = mqtt_url is None
        self._app = create_app(settings)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="demo-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mqtt_url(self) -> str:
        """The broker the server uses (its embedded one unless a URL was given)."""
        return str(self._app.state.mqtt_url)

    def broker_password(self, gateway: str) -> str | None:
        """A gateway's password on the embedded broker (what ``meterlink-server
        broker-password GATEWAY`` prints), or None with a broker of your own."""
        if not self._embedded_broker:
            return None
        from server.broker_credentials import BrokerCredentials

        return BrokerCredentials.load_or_create(self._data_dir).password(gateway)

    def start(self) -> bool:
        """Start and wait until the server listens; False if it died on the way."""
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.1)
        return bool(self._server.started)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(60)


@contextmanager
def fleet_and_agents(
    fleet: Fleet,
    *,
    clock: VirtualClock,
    data_dir: Path,
    broker_url: str,
    mqtt_311: bool,
    broker_password: Callable[[str], str | None] = lambda gw: None,
) -> Iterator[tuple[RunningFleet, list[str]]]:
    """Serve ``fleet`` on loopback and run one edge agent per concentrator; yields the
    running fleet and the concentrators' ids; stops the agents, then the fleet. Each agent
    connects as its gateway id with ``broker_password(gw)`` when that gives one."""
    agents: list[Agent] = []
    with running_fleet(
        fleet, clock=clock, fast=True, ground_truth=data_dir / "ground_truth.jsonl"
    ) as run:
        try:
            gateways = sorted({gateway_of(b) for b in run.urls})
            for gw in gateways:
                cfg = edge_config(
                    fleet,
                    run,
                    gw,
                    data_dir=data_dir,
                    broker_url=broker_url,
                    broker_password=broker_password(gw),
                )
                if mqtt_311:
                    cfg["broker"]["protocol"] = "3.1.1"  # amqtt speaks MQTT 3.1.1 only
                agent = Agent(config_from_dict(cfg), status_every_s=15)
                agent.start()
                agents.append(agent)
            yield run, gateways
        finally:
            for agent in agents:
                try:
                    agent.stop()
                except Exception:
                    log.exception("stopping an edge agent failed")


def edge_config(
    fleet: Fleet,
    run: RunningFleet,
    gw: str,
    *,
    data_dir: Path,
    broker_url: str,
    broker_password: str | None = None,
) -> dict[str, Any]:
    """One concentrator's edge configuration, tuned for loopback meters. A broker password
    goes to a file beside the edge's outbox (mode 600), as on a real gateway."""
    buses = [b for b in run.urls if gateway_of(b) == gw]
    cfg = edge_config_dict(
        fleet,
        run.urls,
        gw,
        buses=buses,
        broker_url=broker_url,
        data_dir=str(data_dir / "edge" / gw),
    )
    for bus in cfg["bus"]:
        bus["timeout_ms"] = 500
        bus["gap_ms"] = 0
    cfg["metrics"] = {"listen": ""}
    if broker_password is not None:
        edge_dir = data_dir / "edge" / gw
        edge_dir.mkdir(parents=True, exist_ok=True)
        secret = edge_dir / "broker_password"
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(broker_password + "\n")
        cfg["broker"]["username"] = gw
        cfg["broker"]["password_file"] = str(secret)
    return cfg
