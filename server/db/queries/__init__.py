"""meterlink server.db.queries."""
