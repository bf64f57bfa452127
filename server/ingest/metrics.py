"""Prometheus counters of the ingestion (the process-wide default registry)."""

from prometheus_client import Counter, Histogram

MESSAGES = Counter("meterlink_ingest_messages", "MQTT messages received", ["channel"])
READINGS = Counter("meterlink_ingest_readings", "readings staged for storage")
INSERTED = Counter("meterlink_ingest_inserted", "readings newly stored")
DEAD = Counter(
    "meterlink_ingest_dead_letters", "messages or readings kept as dead letters", ["reason"]
)
COMMIT_SECONDS = Histogram("meterlink_ingest_commit_seconds", "time to store one batch")
