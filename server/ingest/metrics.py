"""Prometheus metrics of one ingest consumer, on the registry it is given (the app's, which
``/metrics`` serves) or on a registry of its own, so a process (a test) can run several."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        self.quarantined = Counter(
            "meterlink_ingest_quarantined",
            "readings quarantined: meter not in the archive, not the publishing gateway's on "
            "the reading's date, or an implausible value",
            ["reason"],
            registry=r,
        )
        self.dead = Counter(
            "meterlink_ingest_dead_letters",
            "messages or readings kept as dead letters",
            ["reason"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "meterlink_ingest_commit_seconds", "time to store one batch", registry=r
        )
        self.retries = Counter(
            "meterlink_ingest_retries",
            "batches retried because the database was down or refusing",
            registry=r,
        )
        self.restarts = Counter(
            "meterlink_ingest_worker_restarts",
            "ingest worker threads restarted after an unexpected error",
            ["worker"],
            registry=r,
        )
        self.oldest_unacked = Gauge(
            "meterlink_ingest_oldest_unacked_seconds",
            "age of the oldest received message not yet stored and acknowledged",
            registry=r,
        )
