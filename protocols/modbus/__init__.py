"""Modbus meter register profiles (data) and their pure codec; no I/O here."""

from protocols.modbus.codec import (
    ModbusCodecError,
    ReadRequest,
    decode_value,
    encode_registers,
    encode_value,
    plan_reads,
)
from protocols.modbus.profiles import (
    DDSU666,
    DTSU666,
    PROFILES,
    SDM120,
    SDM630,
    DataType,
    MeterProfile,
    ProfileError,
    RegisterSpec,
    WordOrder,
    get_profile,
)

__all__ = [
    "DDSU666",
    "DTSU666",
    "PROFILES",
    "SDM120",
    "SDM630",
    "DataType",
    "MeterProfile",
    "ModbusCodecError",
    "ProfileError",
    "ReadRequest",
    "RegisterSpec",
    "WordOrder",
    "decode_value",
    "encode_registers",
    "encode_value",
    "get_profile",
    "plan_reads",
]
