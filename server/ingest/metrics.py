"""Prometheus metrics of one ingest consumer, on the registry it is given (the app's, which
``/metrics`` serves) or on a registry of its own, so a process (a test) can run several."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.messages = Counter(
            "meterlink_ingest_messages", "MQTT messages received", ["channel"], registry=r
        )
        self.readings = Counter(
            "meterlink_ingest_readings", "readings staged for storage", registry=r
        )
        self.inserted = Counter("meterlink_ingest_inserted", "readings newly stored", registry=r)
        self.dead = Counter(
            "meterlink_ingest_dead_letters",
            "messages or readings kept as dead letters",
            ["reason"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "meterlink_ingest_commit_seconds", "time to store one batch", registry=r
        )
