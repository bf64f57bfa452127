"""Meter drivers: a protocol codec plus a transport give canonical readings."""
