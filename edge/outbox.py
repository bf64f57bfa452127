"""Store and forward: every reading is committed to SQLite before it is published, and
deleted only when the uplink says it arrived (:meth:`Outbox.ack`).

What "arrived" means is the uplink's choice, not this module's: by default
(``delivery = "receipt"``) the uplink acks a batch only when the server's receipt for it comes
back on the gateway's ``receipt`` topic, never on the broker's PUBACK alone; with
``delivery = "puback"`` (a durable broker) the PUBACK is enough. Until then the readings stay
here and are sent again after a timeout or a reconnect.

- WAL journal, ``synchronous=FULL``: a reading :meth:`Outbox.add` returned for survives
  ``kill -9`` and a power cut.
- Bounded by a disk budget. Only past it are the OLDEST readings dropped; every drop is
  counted (persisted), logged, and reported in the status message. Nothing expires by age.
- An outbox is stamped (SQLite ``PRAGMA application_id`` = :data:`APPLICATION_ID`, "MLOB").
  A file at the path that is not a meterlink outbox (not SQLite, another application's
  database, a folder) is refused with :class:`ForeignOutboxError` naming the path: never
  renamed, replaced or written. Outboxes made before the stamp are recognised by their
  tables and stamped. See :func:`outbox_path_problem` (also used by ``check-config``).
- A corrupt outbox (stamped, or recognised as one) is moved aside
  (``<name>.corrupt-<time>``, never deleted) and a new outbox started; the event is counted
  and logged.
- With ``journal`` on (a test bench's audit, not for the field: it grows without bound) a
  copy of every committed reading goes to the ``journal`` table in the same transaction,
  so a reconciliation knows exactly what the gateway committed.
- Times (``created``, a command's ``at``) are epoch seconds of the agent's clock.
- Recent command ids are remembered here too, so a command redelivered by the broker after
  a restart is not executed twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from protocols.model import Reading
from protocols.wire import reading_from_dict, reading_to_dict

from .clock import Clock, SystemClock
from .config import ConfigError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen_commands (id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
"""
KEEP_COMMANDS = 1000
#: SQLite's application id of a meterlink outbox: "MLOB" in ASCII.
APPLICATION_ID = 0x4D4C4F42
_SQLITE_MAGIC = b"SQLite format 3\x00"
_OUTBOX_COLUMNS = ["id", "created", "body"]


class OutboxError(RuntimeError):
    """The outbox cannot take readings (disk full, read-only...): the caller retries."""


class ForeignOutboxError(ConfigError):
    """The outbox path holds a file that is not a meterlink outbox (a configuration error:
    the file is left as it is)."""


def outbox_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as an outbox, or None: it is free (missing or empty) or
    holds a meterlink outbox (stamped, or made before the stamp and recognised by its
    tables). Reads only; never writes, creates or moves anything."""
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} exists and is not a file"
    if path.stat().st_size == 0:
        return None
    with path.open("rb") as fh:
        header = fh.read(100)
    if not header.startswith(_SQLITE_MAGIC):
        return f"{path} exists and is not an SQLite database (so not a meterlink outbox)"
    if len(header) == 100 and int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return None  # ours, whatever state its pages are in
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            columns = [r[1] for r in conn.execute("PRAGMA table_info(outbox)").fetchall()]
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"{path} is an SQLite database that cannot be read as a meterlink outbox ({exc})"
    if app_id == APPLICATION_ID:
        return None  # stamped in a write-ahead log not yet checkpointed
    if app_id == 0 and columns == _OUTBOX_COLUMNS and "counters" in tables:
        return None  # an outbox made before the stamp
    what = f"application id {app_id:#010x}" if app_id else f"tables {sorted(tables)}"
    return f"{path} is an SQLite database of something else ({what}), not a meterlink outbox"


@dataclass(frozen=True)
class Pending:
    ids: list[int]
    readings: list[Reading]


class Outbox:
    def __init__(
        self,
        path: Path | str,
        budget_bytes: int = 256 * 1024 * 1024,
        *,
        journal: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock or SystemClock()
        self.journal = journal
        self.budget_bytes = budget_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.corrupt_files = 0
        self._conn = self._open()

    # ------------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # new, or made before
        row = conn.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {row}")
        return conn

    def _open(self) -> sqlite3.Connection:
        problem = outbox_path_problem(self.path)
        if problem is not None:
            raise ForeignOutboxError(
                f"outbox.path: {problem}; meterlink never takes over a file it did not make: "
                "set [outbox] path to a new file or move this one away"
            )
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            stamp = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            log.error(
                "outbox %s is corrupt (%s); moved to %s and starting a new one",
                self.path,
                exc,
                aside,
            )
            self.path.rename(aside)
            for extra in ("-wal", "-shm"):
                side = self.path.with_name(self.path.name + extra)
                if side.exists():
                    side.rename(aside.with_name(aside.name + extra))
            self.corrupt_files += 1
            conn = self._connect()
            self._bump(conn, "corrupt_files", 1)
            return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ counters

    @staticmethod
    def _bump(conn: sqlite3.Connection, name: str, by: int) -> None:
        conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) "
            "DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM counters WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    @property
    def dropped(self) -> int:
        return self.counter("dropped")

    # ------------------------------------------------------------------ readings

    def add(self, readings: Sequence[Reading]) -> None:
        """Commit ``readings``; returns only once they are on disk (fsync'd)."""
        if not readings:
            return
        now = self.clock.now().timestamp()
        rows = [(now, json.dumps(reading_to_dict(r), separators=(",", ":"))) for r in readings]
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT INTO outbox(created, body) VALUES (?, ?)", rows)
                if self.journal:
                    self._conn.executemany(
                        "INSERT INTO journal(body) VALUES (?)", [(body,) for _, body in rows]
                    )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise OutboxError(
                    f"cannot commit {len(rows)} readings to {self.path}: {exc}"
                ) from exc
            self._enforce_budget()

    def journaled(self) -> list[Reading]:
        """Every reading ever committed while the journal was on."""
        with self._lock:
            bodies = self._conn.execute("SELECT body FROM journal ORDER BY id").fetchall()
        return [reading_from_dict(json.loads(b)) for (b,) in bodies]

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            p = self.path.with_name(self.path.name + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def _used_bytes(self) -> int:
        page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * page_size)

    def _enforce_budget(self) -> None:
        used = self._used_bytes()
        if used <= self.budget_bytes:
            return
        depth = self.depth()
        if depth == 0:
            return
        # drop the oldest share that brings us back under 90 % of the budget
        share = min(1.0, (used - 0.9 * self.budget_bytes) / used)
        n = max(1, int(depth * share))
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (n,)
        )
        self._bump(self._conn, "dropped", n)
        self._conn.execute("COMMIT")
        log.error(
            "outbox over its %d-byte budget: dropped the %d oldest unsent readings "
            "(%d dropped in all)",
            self.budget_bytes,
            n,
            self.dropped,
        )

    def take(self, limit: int, after_id: int = 0) -> Pending:
        """The oldest unsent readings after ``after_id``, in order (not removed)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            ).fetchall()
        ids, readings = [], []
        for rid, body in rows:
            ids.append(rid)
            readings.append(reading_from_dict(json.loads(body)))
        return Pending(ids, readings)

    def take_newest(self, limit: int) -> Pending:
        """The newest unsent readings, oldest of them first (live data during a replay)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body FROM (SELECT id, body FROM outbox "
                "ORDER BY id DESC LIMIT ?) ORDER BY id",
                (limit,),
            ).fetchall()
        return Pending([r[0] for r in rows], [reading_from_dict(json.loads(r[1])) for r in rows])

    def ack(self, ids: Sequence[int]) -> None:
        """These readings arrived (the server's receipt, or the PUBACK if the uplink is
        configured so): delete them."""
        if not ids:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self._bump(self._conn, "acked", len(ids))
            self._conn.execute("COMMIT")

    def discard(self, ids: Sequence[int]) -> None:
        """Delete readings that can never be delivered, counted as dropped."""
        if not ids:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self._bump(self._conn, "dropped", len(ids))
            self._conn.execute("COMMIT")

    def depth(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def oldest_age_s(self, now: float | None = None) -> float | None:
        with self._lock:
            row = self._conn.execute("SELECT min(created) FROM outbox").fetchone()
        if row is None or row[0] is None:
            return None
        return max(0.0, (now or self.clock.now().timestamp()) - float(row[0]))

    # ------------------------------------------------------------------ commands

    def command_seen(self, command_id: str) -> bool:
        """True if this command id was executed before; records it otherwise."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM seen_commands WHERE id = ?", (command_id,)
            ).fetchone()
            if row:
                return True
            self._conn.execute(
                "INSERT INTO seen_commands(id, at) VALUES (?, ?)",
                (command_id, self.clock.now().timestamp()),
            )
            self._conn.execute(
                "DELETE FROM seen_commands WHERE id NOT IN (SELECT id FROM "
                "seen_commands ORDER BY at DESC LIMIT ?)",
                (KEEP_COMMANDS,),
            )
            return False
