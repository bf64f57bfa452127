"""Meter simulators for test teams: DL/T 645 and Modbus meters on simulated buses.

Python API (stable; tests, benchmarks and the demo build on it)::

    from simulators.fleet import load_fleet, fleet_from_dict     # validated fleet files
    from simulators.simulation import Simulation                 # meters, buses, faults
    from simulators.clock import VirtualClock                    # time faster than real
    from simulators.harness import running_fleet, edge_config_dict

    with running_fleet("simulators/fleets/example.toml", fast=True) as run:
        run.urls                       # {"rs485-1": "socket://127.0.0.1:40123", ...}
        run.sim.inject("C000001", "dead")
        run.sim.expected("C000001")    # what the meter reports now

Command line: ``meterlink-sim run FLEET``, ``meterlink-sim fault METER KIND``,
``meterlink-sim example``. Ground-truth file format: ``GROUND_TRUTH.md``.
"""
