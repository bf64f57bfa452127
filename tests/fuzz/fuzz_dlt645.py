"""Fuzzing the DL/T 645 streaming decoder with random and mutated byte streams.

    python -m tests.fuzz.fuzz_dlt645 --streams 1000000     # the full run (RELIABILITY.md)

Each stream is built from the byte-exact vectors of ``tests/protocols/dlt645/vectors.py``
(valid frames, with and without FE preambles) and one of: clean frames with random noise
between them; one to three random byte changes (flip, insert, delete, replace) anywhere;
truncation; pure random bytes. The stream is fed in random chunk sizes.

Checked for every stream:
* no exception at all escapes ``feed`` (bad bytes are discards, not errors);
* every frame that comes out passes the frame check again (checksum, length, end byte);
* nothing is invented: a frame out of a mutated stream is one of the frames put in, unless
  the mutation itself produced a self-consistent frame (checked by re-encoding it);
* nothing is lost: from clean frames separated by noise that contains no 0x68, every frame
  comes out, in order;
* the decoder's buffer never holds more than its bound.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field

from protocols import dlt645 as d
from tests.protocols.dlt645.vectors import VECTORS

FRAMES = [bytes.fromhex(v.hex) for v in VECTORS]


@dataclass
class Counts:
    streams: int = 0
    bytes_fed: int = 0
    frames_out: int = 0
    frames_expected_clean: int = 0
    mutated_frames_new_but_valid: int = 0
    failures: list[str] = field(default_factory=list)


def _noise(rng: random.Random, n: int) -> bytes:
    return bytes(rng.choice([b for b in range(256) if b != 0x68]) for _ in range(n))


def _mutate(rng: random.Random, data: bytearray) -> None:
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(4)
        i = rng.randrange(len(data)) if data else 0
        if op == 0 and data:
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data.insert(i, rng.randrange(256))
        elif op == 2 and data:
            del data[i]
        elif data:
            data[i] = rng.randrange(256)


def _feed(dec: d.StreamDecoder, rng: random.Random, stream: bytes) -> list[d.Frame]:
    out: list[d.Frame] = []
    i = 0
    while i < len(stream):
        n = rng.choice((1, 2, 7, 13, 64, 4096))
        out += dec.feed(stream[i : i + n])
        assert dec.pending <= dec.max_buffer, "buffer past its bound"
        i += n
    return out


def one(rng: random.Random, counts: Counts) -> None:
    picked = [rng.choice(FRAMES) for _ in range(rng.randint(1, 5))]
    mode = rng.randrange(4)
    if mode == 0:  # clean frames, noise without 0x68 between: all must come out, in order
        parts = []
        for f in picked:
            parts += [_noise(rng, rng.randint(0, 20)), f]
        stream = b"".join(parts)
    elif mode == 1:  # mutated
        buf = bytearray(b"".join(picked))
        _mutate(rng, buf)
        stream = bytes(buf)
    elif mode == 2:  # truncated
        whole = b"".join(picked)
        stream = whole[: rng.randrange(len(whole))]
    else:  # random bytes, sometimes with start bytes sprinkled in
        stream = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        if rng.random() < 0.5:
            stream = stream.replace(b"\x00", b"\x68")
    dec = d.StreamDecoder(max_buffer=rng.choice((64, 256, 4096)))
    try:
        frames = _feed(dec, rng, stream)
    except Exception as exc:  # noqa: BLE001 - the point: nothing may escape
        counts.failures.append(f"mode {mode}: {type(exc).__name__}: {exc} on {stream.hex()}")
        return
    counts.streams += 1
    counts.bytes_fed += len(stream)
    counts.frames_out += len(frames)
    known = {d.decode_frame(f).data: f for f in picked}
    for fr in frames:
        again = d.encode_frame(fr)
        if d.decode_frame(again) != fr:
            counts.failures.append(f"mode {mode}: a frame that does not re-encode: {fr}")
        if mode != 1 and fr.data not in known:
            counts.failures.append(f"mode {mode}: invented frame {again.hex()} from {stream.hex()}")
        elif mode == 1 and fr.data not in known:
            counts.mutated_frames_new_but_valid += 1
    if mode == 0:
        counts.frames_expected_clean += len(picked)
        want = [d.decode_frame(f) for f in picked]
        if frames != want:
            counts.failures.append(f"clean stream lost or reordered frames: {stream.hex()}")


def fuzz(streams: int, seed: int = 645) -> Counts:
    rng = random.Random(seed)
    counts = Counts()
    for _ in range(streams):
        one(rng, counts)
        if len(counts.failures) > 20:
            break
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=645)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    c = fuzz(args.streams, args.seed)
    print(
        f"{c.streams:,} streams, {c.bytes_fed:,} bytes, {c.frames_out:,} frames out "
        f"({c.frames_expected_clean:,} from clean streams, all recovered in order; "
        f"{c.mutated_frames_new_but_valid:,} self-consistent frames made by mutations), "
        f"{len(c.failures)} failures, {time.perf_counter() - t0:.0f} s"
    )
    for f in c.failures:
        print("FAIL", f)
    return 1 if c.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
