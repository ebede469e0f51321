from __future__ import annotations

import pytest

from netweave.model import ConfigRule, Device, Endpoint
from netweave.model.ids import device_id, endpoint_id
from netweave.store import Change, ConflictError, NotFoundError, Op, Store


def _device(name: str) -> Device:
    return Device(id=device_id(name), name=name)


def test_add_get_list_delete(store: Store) -> None:
    with store.transaction() as tx:
        tx.devices.add(_device("s1"))
        tx.devices.add(_device("s2"))
    with store.read() as r:
        assert [d.name for d in r.devices.list()] == ["s1", "s2"]
        assert r.devices.get(device_id("s1")).name == "s1"
    with store.transaction() as tx:
        tx.devices.delete(device_id("s1"))
    with store.read() as r, pytest.raises(NotFoundError):
        r.devices.get(device_id("s1"))


def test_duplicate_name_conflicts_and_rolls_back(store: Store) -> None:
    with pytest.raises(ConflictError), store.transaction() as tx:
        tx.devices.add(_device("s1"))
        tx.devices.add(Device(id=device_id("other"), name="s1"))
    with store.read() as r:
        assert r.devices.list() == []


def test_endpoint_names_unique_per_device(store: Store) -> None:
    with store.transaction() as tx:
        for dev in ("s1", "s2"):
            tx.endpoints.add(
                Endpoint(id=endpoint_id(dev, "eth1"), name="eth1", device_id=device_id(dev))
            )
    with store.read() as r:
        assert len(r.endpoints.list(scope=device_id("s1"))) == 1
        assert len(r.endpoints.list()) == 2


def test_commit_listener_sees_changes_once(store: Store) -> None:
    seen: list[list[Change]] = []
    store.on_commit(seen.append)
    with store.transaction() as tx:
        tx.devices.add(_device("s1"))
    assert [(c.kind, c.op) for c in seen[0]] == [("device", Op.CREATED)]
    with pytest.raises(ConflictError), store.transaction() as tx:
        tx.devices.add(_device("s1"))
    assert len(seen) == 1


def test_rules_bulk_roundtrip(store: Store) -> None:
    rules = [
        ConfigRule(id=f"r{i}", owner="service/x", device_id="d1", key=f"/flow/{i}", value={"n": i})
        for i in range(50)
    ]
    with store.transaction() as tx:
        tx.rules.add_many(rules)
    with store.read() as r:
        assert r.rules.get("r7").value == {"n": 7}
        assert len(r.rules.list(owner="service/x")) == 50
    with store.transaction() as tx:
        assert tx.rules.delete_many(f"r{i}" for i in range(10)) == 10
    with store.read() as r:
        assert len(r.rules.list(device_id="d1")) == 40


def test_read_snapshot_refuses_writes(store: Store) -> None:
    with store.read() as r, pytest.raises(RuntimeError):
        r.devices.add(_device("s1"))


def test_entities_count_and_page_in_name_order(store: Store) -> None:
    with store.transaction() as tx:
        for name in ("s3", "s1", "s4", "s2"):
            tx.devices.add(_device(name))
        tx.endpoints.add(Endpoint(id=endpoint_id("s1", "p1"), name="p1", device_id=device_id("s1")))
    with store.read() as r:
        assert r.devices.count() == 4
        assert r.endpoints.count(scope=device_id("s1")) == 1
        assert r.endpoints.count(scope=device_id("s2")) == 0
        assert [d.name for d in r.devices.list(limit=2, offset=1)] == ["s2", "s3"]


def test_update_renames_reports_before_and_guards_names(store: Store) -> None:
    seen: list[list[Change]] = []
    with store.transaction() as tx:
        tx.devices.add(_device("s1"))
        tx.devices.add(_device("s2"))
    store.on_commit(seen.append)
    renamed = Device(id=device_id("s1"), name="core-1", address="tcp:10.0.0.1:6653")
    with store.transaction() as tx:
        tx.devices.update(renamed)
    [change] = seen[0]
    assert (change.op, change.entity, change.before) == (Op.UPDATED, renamed, _device("s1"))
    with store.read() as r:
        assert r.devices.find_by_name("core-1") == renamed
        assert r.devices.find_by_name("s1") is None
    with pytest.raises(ConflictError, match="'s2' is already used"), store.transaction() as tx:
        tx.devices.update(Device(id=device_id("s1"), name="s2"))
    with pytest.raises(NotFoundError), store.transaction() as tx:
        tx.devices.update(_device("missing"))


def test_bulk_reads_by_ids_and_by_scopes(store: Store) -> None:
    with store.transaction() as tx:
        for dev in ("s1", "s2"):
            tx.devices.add(_device(dev))
            for port in ("eth2", "eth1"):
                tx.endpoints.add(
                    Endpoint(id=endpoint_id(dev, port), name=port, device_id=device_id(dev))
                )
    with store.read() as r:
        found = r.devices.find_many([device_id("s2"), "missing", device_id("s2")])
        assert list(found) == [device_id("s2")]
        by_device = r.endpoints.list_scopes([device_id("s2"), device_id("s1"), "none"])
    assert {scope: [e.name for e in ends] for scope, ends in by_device.items()} == {
        device_id("s2"): ["eth1", "eth2"],
        device_id("s1"): ["eth1", "eth2"],
        "none": [],
    }


def test_touch_writes_nothing_and_reports_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.devices.add(_device("s1"))
    seen: list[list[Change]] = []
    store.on_commit(seen.append)
    with store.transaction() as tx:
        tx.devices.touch([device_id("s1"), "missing"])
    assert seen == [[]]
    with store.read() as r:
        assert r.devices.get(device_id("s1")) == _device("s1")
