"""The gateways' room: what the server tells gateways and what they tell it back, besides
readings.

- :mod:`.commands` queues a command (checked against the wire contract) and takes the
  pending ones for sending;
- :mod:`.dispatch` sends the pending commands over MQTT (run by the ingest consumer, which
  owns the broker connection);
- :mod:`.results` closes a command with the result its gateway sent;
- :mod:`.status` records a gateway's reported status.

Readings are not here (:mod:`server.ingest` stores them), nor is SQL
(:mod:`server.db.queries.gateways`).
"""
