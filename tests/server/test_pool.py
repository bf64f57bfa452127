"""The server's sessions run without JIT compilation (server/db/pool.py), on both flavours,
unless the database URL's options say otherwise."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from server.db.pool import open_pool, without_jit


def test_the_pool_turns_jit_off(db_url: str) -> None:
    pool = open_pool(db_url, max_size=1)
    try:
        with pool.connection() as conn:
            row = conn.execute("SHOW jit").fetchone()
        assert row == ("off",)
    finally:
        pool.close()


def test_options_of_the_url_are_kept_and_an_explicit_jit_wins() -> None:
    url = "postgresql://u@127.0.0.1:5432/db?options=-c%20statement_timeout%3D5000"
    opts = conninfo_to_dict(without_jit(url))["options"]
    assert opts == "-c statement_timeout=5000 -c jit=off"
    assert conninfo_to_dict(without_jit(url))["dbname"] == "db"
    mine = "postgresql://u@127.0.0.1/db?options=-c%20jit%3Don"
    assert without_jit(mine) == mine
    assert conninfo_to_dict(without_jit("host=/tmp/sock dbname=x"))["host"] == "/tmp/sock"
