"""Meter simulators for test teams: DL/T 645 and Modbus meters on simulated buses."""
