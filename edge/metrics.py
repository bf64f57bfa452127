"""Prometheus metrics of one edge agent (its own registry, so tests can run several)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class EdgeMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.transactions = Counter(
            "meterlink_bus_transactions", "request/reply exchanges", ["bus"], registry=r
        )
        self.timeouts = Counter(
            "meterlink_bus_timeouts", "requests without a valid reply", ["bus"], registry=r
        )
        self.checksum_errors = Counter(
            "meterlink_bus_checksum_errors",
            "frames dropped for a bad checksum",
            ["bus"],
            registry=r,
        )
        self.response_time = Histogram(
            "meterlink_bus_response_seconds",
            "time from request to parsed reply",
            ["bus"],
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
            registry=r,
        )
        self.meter_success = Gauge(
            "meterlink_meter_success_ratio",
            "successful reads / attempts per meter",
            ["meter"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "meterlink_outbox_depth", "readings waiting to be sent", registry=r
        )
        self.outbox_oldest = Gauge(
            "meterlink_outbox_oldest_age_seconds", "age of the oldest unsent reading", registry=r
        )
        self.outbox_dropped = Gauge(
            "meterlink_outbox_dropped_total", "readings dropped past the disk budget", registry=r
        )

        self.receipts_ignored = Gauge(
            "meterlink_uplink_receipts_ignored_total",
            "batch ids in receipts that named no batch awaiting one (forged, another "
            "gateway's, or late): nothing was deleted for them",
            registry=r,
        )

    def set_outbox(self, depth: int, oldest_age_s: float | None, dropped: int) -> None:
        self.outbox_depth.set(depth)
        self.outbox_oldest.set(oldest_age_s or 0.0)
        self.outbox_dropped.set(dropped)

    def serve(self, listen: str) -> MetricsServer:
        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(
            int(port), addr=host or "127.0.0.1", registry=self.registry
        )
        return MetricsServer(server)


class MetricsServer:
    """The running Prometheus endpoint; :meth:`shutdown` stops it and closes its socket."""

    def __init__(self, server: Any) -> None:
        self._server = server

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
