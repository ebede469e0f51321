"""The process cache of devices, links, services and connections: on SQLite kept per
generation and moved forward by this process's commits, on PostgreSQL validated by row
versions; another writer (another process) is noticed on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from netweave.model import Device, Service
from netweave.model.ids import device_id, service_id
from netweave.store import Repository, Store
from netweave.store.schema import generations


def _device(name: str, **fields: object) -> Device:
    return Device.model_validate({"id": device_id(name), "name": name, **fields})


def _names(store: Store) -> list[str]:
    with store.read() as repo:
        return sorted(device.name for device in repo.devices.by_id().values())


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'cache.db'}")
    yield store
    store.close()


def test_every_backend_sees_its_own_and_committed_writes(store: Store) -> None:
    with store.transaction() as repo:
        repo.devices.add(_device("s1"))
        assert list(repo.devices.by_id()) == [device_id("s1")]
    with store.transaction() as repo:
        repo.devices.update(_device("s1", attributes={"rack": "1"}))
        repo.devices.add(_device("s2"))
    with store.read() as repo:
        assert repo.devices.by_id()[device_id("s1")].attributes == {"rack": "1"}
    assert _names(store) == ["s1", "s2"]


def test_unchanged_devices_are_not_read_again(sqlite_store: Store) -> None:
    with sqlite_store.transaction() as repo:
        repo.devices.add(_device("s1"))
    with sqlite_store.read() as repo:
        first = repo.devices.by_id()
    with sqlite_store.read() as repo:
        assert repo.devices.by_id() is first
    with sqlite_store.transaction() as repo:  # endpoints are not cached: nothing moves
        repo.links.list()
    with sqlite_store.read() as repo:
        assert repo.devices.by_id() is first


def test_a_commit_moves_the_cache_with_its_changes(sqlite_store: Store) -> None:
    with sqlite_store.transaction() as repo:
        repo.devices.add(_device("s1"))
        repo.devices.add(_device("s2"))
    assert _names(sqlite_store) == ["s1", "s2"]  # kept for this generation
    with sqlite_store.transaction() as repo:
        repo.devices.delete(device_id("s1"))
        repo.devices.add(_device("s3"))
        repo.devices.update(_device("s2", attributes={"rack": "2"}))
    with sqlite_store.read() as repo:
        generation = repo.devices.generation()
        kept = repo.devices.by_id()
    assert sorted(d.name for d in kept.values()) == ["s2", "s3"]
    assert kept[device_id("s2")].attributes == {"rack": "2"}
    with sqlite_store.read() as repo:
        assert repo.devices.generation() == generation
        assert repo.devices.by_id() is kept


def test_a_rolled_back_write_leaves_the_cache_as_it_was(store: Store) -> None:
    with store.transaction() as repo:
        repo.devices.add(_device("s1"))
    assert _names(store) == ["s1"]
    with pytest.raises(RuntimeError), store.transaction() as repo:
        repo.devices.add(_device("s2"))
        assert len(repo.devices.by_id()) == 2
        raise RuntimeError("abort")
    assert _names(store) == ["s1"]


def test_another_writer_of_the_database_is_noticed(store_url: str) -> None:
    ours, theirs = Store.open(store_url), Store.open(store_url)  # as two processes would
    try:
        with ours.transaction() as repo:
            repo.devices.add(_device("s1"))
        assert _names(ours) == ["s1"]
        with theirs.transaction() as repo:
            repo.devices.add(_device("s2"))
            repo.devices.update(_device("s1", attributes={"rack": "9"}))
        assert _names(ours) == ["s1", "s2"]
        with ours.read() as repo:
            assert repo.devices.by_id()[device_id("s1")].attributes == {"rack": "9"}
    finally:
        ours.close()
        theirs.close()


def test_unchanged_entities_are_shared_and_changed_ones_read_again(store: Store) -> None:
    with store.transaction() as repo:
        repo.devices.add(_device("s1"))
        repo.devices.add(_device("s2"))
    with store.read() as repo:
        first = repo.devices.by_id()
    with store.read() as repo:
        assert repo.devices.by_id() is first
    with store.transaction() as repo:
        repo.devices.update(_device("s2", attributes={"rack": "2"}))
    with store.read() as repo:
        now = repo.devices.by_id()
    assert now[device_id("s1")] is first[device_id("s1")]
    assert now[device_id("s2")].attributes == {"rack": "2"}


def test_derived_values_are_built_once_per_generation(sqlite_store: Store) -> None:
    builds: list[int] = []

    def devices_counted(repo: Repository) -> int:
        def build() -> int:
            builds.append(len(repo.devices.by_id()))
            return builds[-1]

        return repo.topology_derived("count", build)

    with sqlite_store.transaction() as repo:
        repo.devices.add(_device("s1"))
    for _ in range(3):
        with sqlite_store.read() as repo:
            assert devices_counted(repo) == 1
    with sqlite_store.transaction() as repo:
        repo.devices.add(_device("s2"))  # this transaction's own view: built anew
        assert devices_counted(repo) == 2
    with sqlite_store.read() as repo:
        assert devices_counted(repo) == 2
    assert builds == [1, 2, 2]


def test_a_writer_sees_what_was_kept_with_its_own_writes(store: Store) -> None:
    with store.transaction() as repo:
        repo.devices.add(_device("s1"))
        repo.devices.add(_device("s2"))
    assert _names(store) == ["s1", "s2"]
    with store.transaction() as repo:
        repo.devices.delete(device_id("s1"))
        repo.devices.add(_device("s3"))
        assert sorted(d.name for d in repo.devices.by_id().values()) == ["s2", "s3"]
        for rack in ("1", "2"):  # one row written twice by one transaction
            repo.devices.update(_device("s2", attributes={"rack": rack}))
            assert repo.devices.by_id()[device_id("s2")].attributes == {"rack": rack}
    assert _names(store) == ["s2", "s3"]
    with store.read() as repo:
        assert repo.devices.by_id()[device_id("s2")].attributes == {"rack": "2"}


def test_the_topology_derived_values_outlive_service_writes(sqlite_store: Store) -> None:
    builds: list[str] = []
    with sqlite_store.transaction() as repo:
        repo.devices.add(_device("s1"))
    for name in ("a", "b"):
        with sqlite_store.transaction() as repo:
            repo.services.add(Service(id=service_id(name), name=name))
            repo.topology_derived("graph", lambda: builds.append("built"))
    assert builds == ["built"]


def test_a_kind_without_a_generation_row_gets_one(sqlite_store: Store) -> None:
    with sqlite_store.engine.begin() as conn:  # as a database from before the kind was cached
        conn.execute(delete(generations).where(generations.c.kind == "device"))
    assert _names(sqlite_store) == []
    with sqlite_store.transaction() as repo:
        repo.devices.add(_device("s1"))
        assert repo.devices.generation() == 1
    assert _names(sqlite_store) == ["s1"]
