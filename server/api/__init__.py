"""meterlink server.api."""
