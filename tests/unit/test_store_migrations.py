from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, text

from netweave.model import Device
from netweave.model.ids import device_id
from netweave.store import Store, migrate
from netweave.store.engine import create_store_engine
from netweave.store.migrate import head_revision
from netweave.store.schema import config_rules, entities, metadata


def _versions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT version_num FROM alembic_version")))


def test_fresh_database_is_brought_to_head(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        assert _versions(store.engine) == [head_revision()]
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.close()


def test_reopening_is_a_no_op_and_keeps_data(store_url: str) -> None:
    store = Store.open(store_url)
    with store.transaction() as tx:
        tx.devices.add(Device(id=device_id("s1"), name="s1"))
    store.close()

    assert migrate(store_url) == head_revision()
    store = Store.open(store_url)
    try:
        assert _versions(store.engine) == [head_revision()]
        with store.read() as r:
            assert [d.name for d in r.devices.list()] == ["s1"]
    finally:
        store.close()


def test_database_from_before_migrations_is_adopted(store_url: str) -> None:
    engine = create_store_engine(store_url)
    metadata.create_all(engine, tables=[entities, config_rules])  # the schema back then
    with engine.begin() as conn:
        conn.execute(
            insert(entities).values(
                kind="device", id="d1", scope="", name="s1", data='{"id": "d1", "name": "s1"}'
            )
        )
    engine.dispose()

    store = Store.open(store_url)
    try:
        assert _versions(store.engine) == [head_revision()]
        with store.read() as r:
            assert r.devices.get("d1").name == "s1"
    finally:
        store.close()


def test_replicas_starting_together_migrate_once(store_url: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        revisions = list(pool.map(lambda _: migrate(store_url), range(4)))
    assert revisions == [head_revision()] * 4
    engine = create_store_engine(store_url)
    try:
        assert _versions(engine) == [head_revision()]
        assert {"entities", "config_rules"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
