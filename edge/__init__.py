"""The gateway (concentrator) agent: reads meters on its buses, keeps every reading in a local
outbox, and publishes it over MQTT. Device and uplink I/O of the system live here."""

__version__ = "0.1.0"
