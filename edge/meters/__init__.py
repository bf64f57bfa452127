"""Meter readers: a protocol codec plus a line give canonical values.

``reader`` holds the :class:`~edge.meters.reader.MeterReader` shape the bus worker talks to
and :func:`~edge.meters.reader.build_reader`; ``dlt645_driver`` and ``modbus_driver`` are the
protocol drivers the readers wrap; ``errors`` names why a read failed.
"""
