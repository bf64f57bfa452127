"""The whole edge agent: outbox, bus workers and plans, uplink, commands, status, metrics."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from protocols import wire

from . import __version__
from .clock import Clock, SystemClock
from .commands import CommandHandler
from .config import EdgeConfig, load_config
from .metrics import EdgeMetrics, MetricsServer
from .outbox import Outbox
from .runtime import EdgeRuntime
from .uplink import Uplink

log = logging.getLogger(__name__)


class Agent:
    def __init__(
        self,
        config: EdgeConfig,
        *,
        clock: Clock | None = None,
        config_path: Path | None = None,
        status_every_s: float = 60.0,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.config_path = config_path
        self.metrics = EdgeMetrics()
        self.outbox = Outbox(
            config.outbox.path,
            config.outbox.budget_bytes,
            journal=config.outbox.journal,
            clock=self.clock,
        )
        self.runtime = EdgeRuntime(
            config, sink=self.outbox.add, clock=self.clock, metrics=self.metrics
        )
        self.uplink = Uplink(
            config.broker,
            config.gateway.id,
            self.outbox,
            on_command=self._on_command,
            status=self.status,
            status_every_s=status_every_s,
            clock=self.clock,
        )
        self.commands = CommandHandler(
            lambda: self.runtime,
            self.outbox,
            self.uplink.publish_result,
            self._reload if config_path else None,
            clock=self.clock,
        )
        self._metrics_server: MetricsServer | None = None

    def _on_command(self, payload: bytes) -> None:
        self.commands.handle(payload)

    def _reload(self) -> None:
        assert self.config_path is not None
        new = load_config(self.config_path)
        self.runtime.reload_config(new)
        self.config = new

    def status(self) -> wire.GatewayStatus:
        buses, meters = self.runtime.health()
        return wire.GatewayStatus(
            gateway=self.config.gateway.id,
            online=True,
            ts=self.clock.now(),
            version=__version__,
            buses=buses,
            meters=meters,
            outbox_depth=self.outbox.depth(),
            outbox_oldest_age_s=self.outbox.oldest_age_s(),
            outbox_dropped=self.outbox.dropped,
        )

    def start(self, *, plans: bool = True) -> None:
        if self.config.metrics_listen:
            self._metrics_server = self.metrics.serve(self.config.metrics_listen)
        self.runtime.start(plans=plans)
        self.uplink.start()
        log.info(
            "edge agent %s started: %d buses, %d meters",
            self.config.gateway.id,
            len(self.config.buses),
            sum(len(b.meters) for b in self.config.buses),
        )

    def stop(self) -> None:
        self.runtime.stop()
        self.commands.close()
        self.uplink.stop()
        self.outbox.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()

    def refresh_metrics(self) -> None:
        self.metrics.set_outbox(
            self.outbox.depth(), self.outbox.oldest_age_s(), self.outbox.dropped
        )
        self.metrics.receipts_ignored.set(self.uplink.ignored_receipts)


def run(
    config: EdgeConfig,
    *,
    clock: Clock | None = None,
    stop_event: threading.Event | None = None,
    config_path: Path | None = None,
) -> None:
    """Run until ``stop_event`` is set (the CLI sets it on SIGINT/SIGTERM)."""
    stop = stop_event or threading.Event()
    agent = Agent(config, clock=clock, config_path=config_path)
    agent.start()
    try:
        while not stop.wait(5.0):
            agent.refresh_metrics()
    finally:
        agent.stop()
