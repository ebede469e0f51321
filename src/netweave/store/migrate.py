"""Schema migrations (alembic, shipped in the package; no alembic.ini needed).

`migrate(url)` brings a database to the newest revision; `Store.open` calls it. Runs
are serialised (SQLite write lock, PostgreSQL advisory lock), so replicas starting
together migrate once. A database created before migrations existed (same tables, no
``alembic_version``) is adopted as revision 0001 and upgraded from there.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from netweave.store.engine import create_store_engine, is_sqlite

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
# Any constant: the key of the PostgreSQL advisory lock held while migrating.
_PG_LOCK_KEY = 0x6E657477


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    """The newest revision this version of netweave knows."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade the database behind `engine` to `revision`; returns the revision reached."""
    conn = engine.connect()
    if not is_sqlite(engine):
        # Read committed, so that after waiting for the lock we see the other run's work.
        conn = conn.execution_options(isolation_level="READ COMMITTED")
    with conn, conn.begin():
        if not is_sqlite(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config = _config(conn)
        if current_revision(conn) is None and inspect(conn).has_table("entities"):
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)
        reached = current_revision(conn)
    return reached or ""


def migrate(url: str, revision: str = "head") -> str:
    """Upgrade the database at `url` to `revision` (default: newest); returns it."""
    engine = create_store_engine(url)
    try:
        return upgrade(engine, revision)
    finally:
        engine.dispose()
