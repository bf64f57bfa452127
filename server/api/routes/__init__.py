"""meterlink server.api.routes."""
