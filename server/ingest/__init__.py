"""MQTT → PostgreSQL/TimescaleDB: nothing lost, nothing doubled, bad input kept aside."""
