"""The device manager against the emulated driver: sessions, topology sync, rule
reconciliation, resync after reconnect, failures surfaced on the rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from netweave.controller import Backoff, DeviceManager
from netweave.drivers import RuleResult
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.model import (
    ConfigRule,
    Device,
    EndpointRef,
    Link,
    OperStatus,
    RuleAction,
    RuleStatus,
)
from netweave.model.ids import device_id, endpoint_id, link_id, rule_id
from netweave.store import Change, Changes, Op, Store
from netweave.testing import eventually


def _rule(device: str, key: str, value: int, action: RuleAction = RuleAction.SET) -> ConfigRule:
    return ConfigRule(
        id=rule_id("test", device, key),
        owner="test",
        device_id=device_id(device),
        key=key,
        value={"v": value},
        action=action,
    )


@pytest.fixture
def network() -> EmulatedNetwork:
    net = EmulatedNetwork()
    for name in ("s1", "s2"):
        net.add_device(name, ["p1", "p2"])
    net.add_link(("s1", "p1"), ("s2", "p1"))
    return net


@pytest.fixture
async def manager(store: Store, network: EmulatedNetwork) -> AsyncIterator[DeviceManager]:
    with store.transaction() as repo:
        for name in ("s1", "s2"):
            repo.devices.add(Device(id=device_id(name), name=name, drivers=["emulated"]))
    mgr = DeviceManager(store, {"emulated": EmulatedPlugin(network)}, backoff=Backoff(0.01))
    await mgr.start()
    try:
        await eventually(lambda: len(mgr.connected_devices()) == 2)
        yield mgr
    finally:
        await mgr.stop()


def _status(store: Store, rid: str) -> RuleStatus | None:
    with store.read() as repo:
        rule = repo.rules.find(rid)
    return rule.status if rule else None


async def test_connect_writes_ports_and_status(store: Store, manager: DeviceManager) -> None:
    def synced() -> bool:
        with store.read() as repo:
            ports = repo.endpoints.list(scope=device_id("s1"))
            up = repo.devices.get(device_id("s1")).status == OperStatus.UP
        return up and sorted(p.name for p in ports) == ["p1", "p2"]

    await eventually(synced)


async def test_desired_rules_are_applied_and_confirmed(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    rule = _rule("s1", "/flow/1", 1)
    with store.transaction() as repo:
        repo.rules.add_many([rule])
    await eventually(lambda: _status(store, rule.id) == RuleStatus.APPLIED)
    assert network.rules("s1") == {"/flow/1": {"v": 1}}
    with store.transaction() as repo:
        repo.rules.put(rule.model_copy(update={"action": RuleAction.DELETE}))
    await eventually(lambda: _status(store, rule.id) is None)
    assert network.rules("s1") == {}


async def test_rejected_rule_is_failed_with_the_device_reason(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    network.fail_rules("/bad", "table full")
    rule = _rule("s2", "/bad/1", 1)
    with store.transaction() as repo:
        repo.rules.add_many([rule])
    await eventually(lambda: _status(store, rule.id) == RuleStatus.FAILED)
    with store.read() as repo:
        assert repo.rules.get(rule.id).error == "table full"
    assert network.rules("s2") == {}


async def test_resync_after_reconnect_removes_stale_and_restores_missing(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    wanted = _rule("s1", "/flow/keep", 1)
    with store.transaction() as repo:
        repo.rules.add_many([wanted])
    await eventually(lambda: _status(store, wanted.id) == RuleStatus.APPLIED)
    network.set_reachable("s1", False)
    await eventually(lambda: device_id("s1") not in {d.id for d in manager.connected_devices()})
    # While it was away, the device lost our rule and gained a stale one.
    network.write_rules("s1", {"/flow/stale": {"v": 0}}, remove=["/flow/keep"])
    network.set_reachable("s1", True)
    await eventually(lambda: network.rules("s1") == {"/flow/keep": {"v": 1}})


async def test_port_down_marks_endpoint_and_declared_link_down(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    with store.transaction() as repo:
        repo.links.add(
            Link(
                id=link_id("l1"),
                name="l1",
                a=EndpointRef(device_id=device_id("s1"), endpoint_id=endpoint_id("s1", "p1")),
                b=EndpointRef(device_id=device_id("s2"), endpoint_id=endpoint_id("s2", "p1")),
            )
        )
    network.set_port_status("s1", "p1", OperStatus.DOWN)

    def link_status() -> OperStatus:
        with store.read() as repo:
            return repo.links.get(link_id("l1")).status

    await eventually(lambda: link_status() == OperStatus.DOWN)
    network.set_port_status("s1", "p1", OperStatus.UP)
    await eventually(lambda: link_status() == OperStatus.UP)


async def test_device_added_later_gets_a_session_and_deleted_one_loses_it(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    network.add_device("s3", ["p1"])
    with store.transaction() as repo:
        repo.devices.add(Device(id=device_id("s3"), name="s3", drivers=["emulated"]))
    await eventually(lambda: manager.driver(device_id("s3")) is not None)
    with store.transaction() as repo:
        repo.devices.delete(device_id("s3"))
    await eventually(lambda: manager.driver(device_id("s3")) is None)


async def test_rule_changed_while_the_device_works_ends_as_the_owner_wrote_it(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    network.latency_s = 0.2
    first = _rule("s1", "/flow/1", 1)
    with store.transaction() as repo:
        repo.rules.add_many([first])
    await asyncio.sleep(0.05)
    with store.transaction() as repo:  # while the device is still busy with v1
        repo.rules.put(first.model_copy(update={"value": {"v": 2}}))
    await eventually(lambda: network.rules("s1") == {"/flow/1": {"v": 2}})
    await eventually(lambda: _status(store, first.id) == RuleStatus.APPLIED)
    with store.read() as repo:
        assert repo.rules.get(first.id).value == {"v": 2}


async def test_a_rule_row_deleted_outright_leaves_the_device_too(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    rule = _rule("s1", "/flow/9", 9)
    with store.transaction() as repo:
        repo.rules.add_many([rule])
    await eventually(lambda: network.rules("s1") == {"/flow/9": {"v": 9}})
    with store.transaction() as repo:
        repo.rules.delete_many([rule.id])
    await eventually(lambda: network.rules("s1") == {})


async def test_a_pass_after_a_change_compares_only_what_changed(
    store: Store, manager: DeviceManager, network: EmulatedNetwork
) -> None:
    network.write_rules("s2", {"/flow/stray": {"v": 0}})  # appears behind our back
    rule = _rule("s2", "/flow/1", 1)
    with store.transaction() as repo:
        repo.rules.add_many([rule])
    await eventually(lambda: _status(store, rule.id) == RuleStatus.APPLIED)
    assert "/flow/stray" in network.rules("s2")  # only a full compare removes it
    manager.resync(device_id("s2"))
    await eventually(lambda: network.rules("s2") == {"/flow/1": {"v": 1}})


async def test_devices_answering_together_are_recorded_in_one_transaction(
    store: Store, manager: DeviceManager
) -> None:
    rules = [_rule(device, f"/flow/{n}", n) for device in ("s1", "s2") for n in range(3)]
    status_writes: list[int] = []

    def count(changes: list[Change]) -> None:
        marked = [c for c in changes if c.op is Op.UPDATED and isinstance(c.entity, ConfigRule)]
        if marked:
            status_writes.append(len(marked))

    store.on_commit(count)
    with store.transaction() as repo:
        repo.rules.add_many(rules)
    await eventually(lambda: all(_status(store, r.id) == RuleStatus.APPLIED for r in rules))
    assert status_writes == [6]  # both switches' answers, one commit


async def test_records_say_which_owners_still_await_answers(store: Store) -> None:
    network = EmulatedNetwork(latency_s=0.2)
    for name in ("s1", "s2"):
        network.add_device(name, ["p1"])
    with store.transaction() as repo:
        for name in ("s1", "s2"):
            repo.devices.add(Device(id=device_id(name), name=name, drivers=["emulated"]))
    awaited: list[tuple[list[str], set[str]]] = []

    def record(changes: Changes) -> None:
        answered = [c.entity.device_id for c in changes if isinstance(c.entity, ConfigRule)]
        if answered and all(c.op is Op.UPDATED for c in changes):
            awaited.append((answered, set(changes.awaited)))

    manager = DeviceManager(store, {"emulated": EmulatedPlugin(network)}, backoff=Backoff(0.01))
    await manager.start()
    try:
        await eventually(lambda: len(manager.connected_devices()) == 2)
        store.on_commit(record)
        first, second = _rule("s1", "/flow/1", 1), _rule("s2", "/flow/1", 1)
        with store.transaction() as repo:
            repo.rules.add_many([first])
        await asyncio.sleep(0.1)  # s1 is still working on it when s2 gets its own
        with store.transaction() as repo:
            repo.rules.add_many([second])
        await eventually(lambda: _status(store, second.id) == RuleStatus.APPLIED)
    finally:
        await manager.stop()
    assert awaited == [([device_id("s1")], {"test"}), ([device_id("s2")], set())]


async def test_a_failed_pass_is_retried_from_scratch(
    store: Store, manager: DeviceManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = manager.driver(device_id("s1"))
    assert driver is not None
    apply = driver.apply
    failures = [RuntimeError("driver bug")]

    async def flaky(rules: Sequence[ConfigRule]) -> list[RuleResult]:
        if failures:
            raise failures.pop()
        return await apply(rules)

    monkeypatch.setattr(driver, "apply", flaky)
    rule = _rule("s1", "/flow/1", 1)
    with store.transaction() as repo:
        repo.rules.add_many([rule])
    await eventually(lambda: _status(store, rule.id) == RuleStatus.APPLIED)
    assert not failures
