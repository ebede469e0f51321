"""Database engines: SQLite (WAL, immediate write locks) or PostgreSQL, by URL.

Isolation: on SQLite writers are serialised (``BEGIN IMMEDIATE``) and readers see a
snapshot. PostgreSQL runs at REPEATABLE READ, so a transaction also sees a snapshot and
a concurrent update of the same row fails with a serialization error (a lost update is
never silent); the store turns that into `TransientError`, which `Store.run` retries.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 64 * 1024
POSTGRES_ISOLATION = "REPEATABLE READ"
# Execution option: how the next SQLite transaction begins ("IMMEDIATE" or "DEFERRED").
SQLITE_BEGIN = "netweave_sqlite_begin"


def normalise_url(url: str) -> str:
    """Accept the short forms users type (`postgresql://`, a bare file path)."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_store_engine(url: str) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, isolation_level=POSTGRES_ISOLATION)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False})
    on_disk = make_url(url).database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions are off).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if on_disk:
            _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache (default 2 MiB), filled only by big reads and writes: the
        # indexes of a million rules fit, which makes bulk inserts ~30% faster.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front so they queue instead of deadlocking;
        # readers begin deferred and never block anyone (WAL).
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (it stays so: once per file). Switching needs the
    database to itself, and SQLite answers "locked" at once instead of waiting while
    another connection (a replica migrating the new file) holds it: retried until the
    busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
