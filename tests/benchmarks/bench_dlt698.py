"""DL/T 698.45 codec benchmark: frames encoded and decoded per second, streaming throughput.

Run: ``python -m tests.benchmarks.bench_dlt698 [--seconds 2]``. Prints one line per
measurement. Absolute rates drift on a shared machine; the ratios printed beside them (to
the PyPI ``dlt698`` package's C++ codec, measured in the same run, and to the wire rate
of a 9600-baud RS-485 line) are the figures to compare. The sibling of
``bench_dlt645``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from protocols import dlt698 as d
from tests.protocols.dlt698.vectors import VECTORS

ADDRESS = "000000000001"
OADS = [
    "00100200",
    "00200200",
    "00300200",
    "10100200",
    "20000200",
    "20010200",
    "20040200",
    "200A0200",
    "200F0200",
    "40000200",
]


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
    # Replies of every kind from the byte-exact vector table (values, lists, records,
    # SECURITY + MAC, refusals), all valid.
    replies = [v.wire for v in VECTORS if v.crc_ok and v.from_server]
    records = d.Rsd.last(1), ["20210200", "20230200", "00100200", "00200200"]

    def encode_requests() -> int:
        for oad in OADS:
            d.build_get(ADDRESS, oad)
        d.build_get_list(ADDRESS, OADS)
        d.build_get_record(ADDRESS, "50040200", *records)
        return len(OADS) + 2

    def decode_replies() -> int:
        for wire in replies:
            reply = d.parse_reply(wire)
            for res in reply.results:
                if res.data is not None:
                    d.values_of(res.oad, res.data)
            for rec in reply.records:
                for row in rec.rows:
                    d.row_values(rec.rcsd, row)
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

    print(f"encode GET requests    {enc:12,.0f} frames/s")
    print(f"decode replies         {dec:12,.0f} frames/s (frame + APDU + scaled values)")
    print(
        f"stream, clean traffic  {clean_bps / 1e6:12.2f} MB/s = "
        f"{clean_bps * frames_per_byte:,.0f} frames/s = {clean_bps / wire_9600:,.0f}x a "
        "9600-baud line"
    )
    print(f"stream, noisy traffic  {noisy_bps / 1e6:12.2f} MB/s (0-12 noise bytes per frame)")
    print(f"stream, pure garbage   {garbage_bps / 1e6:12.2f} MB/s")
    try:
        from dlt698 import _native as n
    except ImportError:
        print("peer: PyPI dlt698 not installed, no ratio")
        return
    plain = [d.decode_frame(d.build_get(ADDRESS, oad)) for oad in OADS]
    peer_frames = [
        n.Frame(
            control=f.control,
            server=n.decode_frame(d.encode_frame(f)).server,
            client=0,
            payload=f.apdu,
        )
        for f in plain
    ]

    def peer_encode() -> int:
        for f in peer_frames:
            n.encode_frame(f)
        return len(peer_frames)

    def peer_decode() -> int:
        for wire in replies:
            payload = n.decode_frame(wire).payload
            if payload[0] == 0x90:
                n.decode_security(payload)
            else:
                n.decode_apdu(payload)
        return len(replies)

    penc = rate(peer_encode, s)
    pdec = rate(peer_decode, s)
    print(
        f"peer dlt698 encode     {penc:12,.0f} frames/s (frame only, APDU prebuilt); "
        f"ours/peer = {enc / penc:.2f}"
    )
    print(
        f"peer dlt698 decode     {pdec:12,.0f} frames/s (frame + APDU, no scaling); "
        f"ours/peer = {dec / pdec:.2f}"
    )


if __name__ == "__main__":
    main()
