"""meterlink server.db."""
