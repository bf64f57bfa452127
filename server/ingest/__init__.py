"""MQTT → PostgreSQL/TimescaleDB: nothing lost, nothing doubled, bad input kept aside.

- :mod:`.consumer` takes the messages (manual acknowledgement), decodes and screens them,
  and sends receipts once their batches are committed;
- :mod:`.store` stores a batch in one transaction (binary COPY, idempotent merge);
- :mod:`.metrics` counts what it did, on the registry it is given;
- :mod:`.service` builds the consumer from the app's settings.

Not here: what gateways report besides readings and the commands sent to them
(:mod:`server.gateways`), and the SQL outside the merge (:mod:`server.db.queries.ingest`).
"""
