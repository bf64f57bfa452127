"""The audit log's hash chain (migration 0530) on PostgreSQL and TimescaleDB: rows written
before the migration are chained by it, every writer's rows are chained by the trigger,
concurrent writers on two connections still make one valid chain, the application cannot
change or delete a row, and ``meterlink-server audit-verify`` names the row a table owner
edited and the gap a deleted row leaves (exit 1), or says OK with the count (exit 0)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.types.json import Jsonb

from server import cli
from server.db.migrate import migrate, migration_files
from server.db.queries.archive import audit
from server.db.queries.audit_log import verify_chain
from server.db.queries.auth import audit_user_change

CHAIN_MIGRATION = "0530_audit_chain"


def _migrate_before_chain(url: str) -> None:
    """Apply the migrations that come before the chain, as a database of today has them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, sql in migration_files():
            if version >= CHAIN_MIGRATION:
                break
            with conn.transaction():
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))


def _write(url: str, n: int, actor: str = "alice") -> None:
    with psycopg.connect(url) as conn:
        for i in range(n):
            audit(
                conn,
                actor=actor,
                action="update",
                entity="meters",
                entity_id=f"M{i}",
                before={"ct_ratio": 1},
                after={"ct_ratio": 2, "note": "ü 电表"},
            )
            conn.commit()


def _verify(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    monkeypatch.setenv("METERLINK_DATABASE_URL", url)
    code = cli.main(["audit-verify", *extra])
    return code, capsys.readouterr().out


def _ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY chain_seq")]


def _as_owner(url: str, sql: str, params: tuple[object, ...] = ()) -> None:
    """What someone with the table owner's rights can do: switch the append-only guard off."""
    with psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute(sql, params)
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        conn.commit()


def test_existing_rows_are_chained_by_the_migration(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _migrate_before_chain(db_url)
    _write(db_url, 5)
    applied = migrate(db_url)  # the chain, then any migration that came after it
    assert applied[0] == CHAIN_MIGRATION and all(v > CHAIN_MIGRATION for v in applied[1:])
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id, chain_seq, prev_hash IS NULL, length(row_hash) FROM audit_log ORDER BY id"
        ).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [(1, True, 32)] + [
        (i, False, 32) for i in range(2, 6)
    ]
    _write(db_url, 2)  # and the trigger carries on after them
    code, out = _verify(db_url, monkeypatch, capsys)
    assert code == 0, out
    assert out.startswith("OK: 7 audit rows chained; last hash ")


def test_every_writer_is_chained_and_verify_says_ok(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(db_url)
    code, out = _verify(db_url, monkeypatch, capsys)
    assert (code, out.strip()) == (0, "OK: 0 audit rows chained; last hash 0:-")
    _write(db_url, 3)
    with psycopg.connect(db_url) as conn:
        # the session's time zone does not change what is hashed
        conn.execute("SET TimeZone = 'Asia/Shanghai'")
        audit_user_change(
            conn,
            actor="admin",
            action="create",
            username="bob",
            before=None,
            after={"username": "bob", "password_hash": "x"},
            now=datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC),
        )
        conn.execute(
            "INSERT INTO audit_log (actor, action, entity, after) VALUES ('system', 'x', 'y', %s)",
            (Jsonb({"a": [1, 2.5, None]}),),
        )
        conn.commit()
    with psycopg.connect(db_url) as conn:
        seqs = [r[0] for r in conn.execute("SELECT chain_seq FROM audit_log ORDER BY chain_seq")]
    assert seqs == [1, 2, 3, 4, 5]
    code, out = _verify(db_url, monkeypatch, capsys)
    assert code == 0, out
    assert out.startswith("OK: 5 audit rows chained")


def test_concurrent_writers_make_one_valid_chain(db_url: str) -> None:
    migrate(db_url)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(actor: str) -> None:
        try:
            with psycopg.connect(db_url) as conn:
                start.wait()
                for i in range(60):
                    # several rows per transaction, so the two interleave while one holds the head
                    for j in range(3):
                        audit(
                            conn,
                            actor=actor,
                            action="update",
                            entity="meters",
                            entity_id=f"{i}.{j}",
                            before=None,
                            after={"i": i},
                        )
                    conn.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(a,)) for a in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(db_url) as conn:
        report = verify_chain(conn)
        actors = [r[0] for r in conn.execute("SELECT actor FROM audit_log ORDER BY chain_seq")]
    assert report.ok, report.problem
    assert report.rows == 360
    # both writers' rows are in the one chain
    assert actors.count("one") == actors.count("two") == 180


def test_the_application_cannot_change_or_delete_a_row(db_url: str) -> None:
    migrate(db_url)
    _write(db_url, 1)
    with psycopg.connect(db_url) as conn:
        for sql in (
            "UPDATE audit_log SET actor = 'mallory'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(sql)
            conn.rollback()


def test_verify_names_an_edited_row(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(db_url)
    _write(db_url, 6)
    victim = _ids(db_url)[3]
    _as_owner(
        db_url,
        "UPDATE audit_log SET after = after || '{\"ct_ratio\": 1000}' WHERE id = %s",
        (victim,),
    )
    code, out = _verify(db_url, monkeypatch, capsys)
    assert code == 1
    assert f"row {victim} (chain position 4) was changed" in out


def test_verify_names_a_row_whose_hash_was_recomputed_too(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewriting one row and its own hash shows at the next row's link."""
    migrate(db_url)
    _write(db_url, 4)
    ids = _ids(db_url)
    _as_owner(
        db_url,
        "UPDATE audit_log SET actor = 'someone-else' WHERE id = %s",
        (ids[1],),
    )
    _as_owner(
        db_url,
        "UPDATE audit_log a SET row_hash = audit_row_hash(a, a.prev_hash) WHERE id = %s",
        (ids[1],),
    )
    code, out = _verify(db_url, monkeypatch, capsys)
    assert code == 1
    assert f"row {ids[2]} (chain position 3) does not follow the row before it ({ids[1]})" in out


def test_verify_names_the_gap_a_deleted_row_leaves(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(db_url)
    _write(db_url, 5)
    ids = _ids(db_url)
    _as_owner(db_url, "DELETE FROM audit_log WHERE id = %s", (ids[2],))
    code, out = _verify(db_url, monkeypatch, capsys)
    assert code == 1
    assert (
        f"rows missing: chain positions 3..3 between row {ids[1]} and row {ids[3]} are gone" in out
    )


def test_verify_notices_rows_removed_from_the_end(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(db_url)
    _write(db_url, 3)
    ids = _ids(db_url)
    _as_owner(db_url, "DELETE FROM audit_log WHERE id = %s", (ids[2],))
    code, out = _verify(db_url, monkeypatch, capsys)
    assert code == 1
    assert "rows missing at the end: the chain ends at position 3, the table at 2" in out


def test_a_rewritten_chain_shows_against_a_hash_kept_elsewhere(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone who rewrites a row and recomputes every hash after it (and the head) passes
    the chain check; the position:hash an earlier run printed shows it."""
    migrate(db_url)
    _write(db_url, 3)
    code, out = _verify(db_url, monkeypatch, capsys)
    kept = out.split("last hash ")[1].strip()
    assert code == 0 and kept.startswith("3:")
    _write(db_url, 2)  # the log goes on: the kept hash still holds
    assert _verify(db_url, monkeypatch, capsys, "--expect", kept)[0] == 0
    with psycopg.connect(db_url) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE chain_seq = 2")
        conn.execute(
            """
            DO $$ DECLARE r audit_log%ROWTYPE; prev bytea; BEGIN
              FOR r IN SELECT * FROM audit_log ORDER BY chain_seq LOOP
                r.prev_hash := prev; r.row_hash := audit_row_hash(r, prev);
                UPDATE audit_log SET prev_hash = r.prev_hash, row_hash = r.row_hash
                 WHERE id = r.id;
                prev := r.row_hash;
              END LOOP;
              UPDATE audit_chain_head SET last_hash = prev;
            END $$"""
        )
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        conn.commit()
    assert _verify(db_url, monkeypatch, capsys)[0] == 0  # a consistent forgery
    code, out = _verify(db_url, monkeypatch, capsys, "--expect", kept)
    assert code == 1
    assert "chain position 3 has hash" in out and "the chain was rewritten" in out
