"""meterlink server."""
