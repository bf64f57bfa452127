"""DL/T 645 codec benchmark: frames encoded and decoded per second, streaming throughput.

Run: ``python -m tests.benchmarks.bench_dlt645 [--seconds 2]``. Prints one line per
measurement. Absolute rates drift on a shared machine; the ratios printed beside them (to
the PyPI ``dlt645`` package's own frame codec, measured in the same run, and to the
wire rate of a 9600-baud RS-485 line) are the figures to compare.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from protocols import dlt645 as d
from tests.protocols.dlt645.vectors import VECTORS

ADDRESS = "000012345678"


def rate(fn: Callable[[], int], seconds: float) -> float:
    """Units per second of ``fn`` (which returns how many units it did), over ``seconds``."""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done += fn()
    return done / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args()
    s = args.seconds
    dis = [
        "00010000",
        "0001FF00",
        "02010100",
        "0201FF00",
        "02020100",
        "02030000",
        "02060000",
        "02800002",
        "04000101",
        "05060101",
    ]
    # Replies of every kind from the byte-exact vector table (energy, blocks, signed values,
    # dates, freezes, errors), all valid.
    replies = [v.wire for v in VECTORS if v.expect["direction"] == "response"]

    def encode_requests() -> int:
        for di in dis:
            d.build_read(ADDRESS, di)
        return len(dis)

    def decode_replies() -> int:
        for wire in replies:
            d.parse_reply(d.decode_frame(wire))
        return len(replies)

    clean = b"".join(replies) * 100
    rng = random.Random(1)
    noisy = bytearray()
    for wire in replies * 100:
        noisy += rng.randbytes(rng.randint(0, 12)).replace(b"\x68", b"\x00") + wire
    garbage = bytes(rng.randbytes(len(clean)))

    def stream(data: bytes) -> Callable[[], int]:
        def run() -> int:
            dec = d.StreamDecoder()
            for i in range(0, len(data), 64):
                dec.feed(data[i : i + 64])
            return len(data)

        return run

    enc = rate(encode_requests, s)
    dec = rate(decode_replies, s)
    clean_bps = rate(stream(clean), s)
    noisy_bps = rate(stream(bytes(noisy)), s)
    garbage_bps = rate(stream(garbage), s)
    frames_per_byte = len(replies) * 100 / len(clean)
    wire_9600 = 9600 / 11  # bytes a second on an 8E1 line at 9600 baud

    print(f"encode read requests   {enc:12,.0f} frames/s")
    print(f"decode read replies    {dec:12,.0f} frames/s (frame + values)")
    print(
        f"stream, clean traffic  {clean_bps / 1e6:12.2f} MB/s = "
        f"{clean_bps * frames_per_byte:,.0f} frames/s = {clean_bps / wire_9600:,.0f}x a "
        "9600-baud line"
    )
    print(f"stream, noisy traffic  {noisy_bps / 1e6:12.2f} MB/s (0-12 noise bytes per frame)")
    print(f"stream, pure garbage   {garbage_bps / 1e6:12.2f} MB/s")
    try:
        from dlt645.protocol.protocol import DLT645Protocol
    except ImportError:
        print("peer: PyPI dlt645 not installed, no ratio")
        return
    addr_wire = d.address_to_wire(ADDRESS)
    plain = [d.di_to_bytes(d.parse_di(di), "2007") for di in dis]

    def peer_encode() -> int:
        for p in plain:
            DLT645Protocol.build_frame(addr_wire, 0x11, p, 4)
        return len(plain)

    def peer_decode() -> int:
        for wire in replies:
            DLT645Protocol.deserialize(wire)
        return len(replies)

    penc = rate(peer_encode, s)
    pdec = rate(peer_decode, s)
    print(f"peer dlt645 encode     {penc:12,.0f} frames/s; ours/peer = {enc / penc:.2f}")
    print(
        f"peer dlt645 decode     {pdec:12,.0f} frames/s (frame only); ours/peer = {dec / pdec:.2f}"
    )


if __name__ == "__main__":
    main()
