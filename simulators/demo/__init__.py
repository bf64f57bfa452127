"""``meterlink demo``: the whole system on one machine with nothing installed.

Three rooms:

- :mod:`simulators.demo.cli` parses the command line and checks the optional extras;
- :mod:`simulators.demo.stack` starts and stops the running parts (server, simulated
  fleet, one edge agent per concentrator);
- :mod:`simulators.demo.script` is everything the demo asks of the server, done through
  its HTTP API only (sign in, archive, backfill commands, progress, summary), so the demo
  doubles as a smoke test of the API.
"""
