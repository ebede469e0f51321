"""Emulated driver behaviour beyond the conformance kit: links, reachability, failure
injection, latency and the plugin."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from netweave.drivers import (
    DeviceStatusChanged,
    DeviceUnreachableError,
    DriverError,
    DriverEvent,
    PacketIn,
    PortStatusChanged,
)
from netweave.drivers.emulated import (
    BATCH_ABORTED,
    EmulatedDriver,
    EmulatedNetwork,
    EmulatedPlugin,
    EmulationError,
)
from netweave.drivers.registry import Registry
from netweave.model import (
    ConfigRule,
    Device,
    DeviceSpec,
    LinkEnd,
    LinkSpec,
    OperStatus,
    PortSpec,
    TopologyDescriptor,
)
from netweave.model.ids import device_id

UP, DOWN = OperStatus.UP, OperStatus.DOWN


def _network() -> EmulatedNetwork:
    network = EmulatedNetwork()
    network.add_device("s1", ["eth1", "eth2"])
    network.add_device("s2", ["eth1"])
    network.add_link(("s1", "eth1"), ("s2", "eth1"), name="s1-s2")
    return network


def _driver(network: EmulatedNetwork, name: str) -> EmulatedDriver:
    return EmulatedDriver(network, Device(id=device_id(name), name=name))


async def _connected(
    network: EmulatedNetwork, name: str
) -> tuple[EmulatedDriver, list[DriverEvent]]:
    driver = _driver(network, name)
    await driver.connect()
    events: list[DriverEvent] = []
    driver.subscribe(events.append)
    return driver, events


def _rule(key: str, device: str = "s1") -> ConfigRule:
    return ConfigRule(id=f"r{key}", owner="test", device_id=device_id(device), key=key)


def _port_events(events: list[DriverEvent]) -> list[tuple[str, str, OperStatus]]:
    return [
        (e.device_id, e.port.name, e.port.status)
        for e in events
        if isinstance(e, PortStatusChanged)
    ]


# -- building ------------------------------------------------------------------------------


def test_a_descriptor_builds_devices_ports_and_links() -> None:
    descriptor = TopologyDescriptor(
        devices=[
            DeviceSpec(name="s1", ports=[PortSpec(name="eth1", number=5), PortSpec(name="eth2")]),
            DeviceSpec(name="h1"),
        ],
        links=[LinkSpec(a=LinkEnd(device="s1", port="eth1"), b=LinkEnd(device="h1", port="eth0"))],
    )
    network = EmulatedNetwork.from_descriptor(descriptor, latency_s=0.5)
    assert network.devices() == ["s1", "h1"]
    assert [(p.name, p.number, p.status) for p in network.ports("s1")] == [
        ("eth1", 5, UP),
        ("eth2", 6, UP),
    ]
    assert [(p.name, p.number) for p in network.ports("h1")] == [("eth0", 1)]
    assert network.latency_s == 0.5
    network.set_link_status("s1:eth1--h1:eth0", DOWN)
    assert network.port_status("h1", "eth0") == DOWN


def test_a_descriptor_link_to_an_unknown_device_is_refused() -> None:
    descriptor = TopologyDescriptor(
        devices=[DeviceSpec(name="s1")],
        links=[LinkSpec(a=LinkEnd(device="s1", port="p"), b=LinkEnd(device="s9", port="p"))],
    )
    with pytest.raises(EmulationError, match="link 's1:p--s9:p': device 's9' is not in"):
        EmulatedNetwork.from_descriptor(descriptor)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda n: n.add_device("s1"), "device 's1' already exists"),
        (lambda n: n.add_port("s1", "eth1"), "device 's1' already has a port 'eth1'"),
        (lambda n: n.add_port("s1", PortSpec(name="x", number=2)), "already has a port numbered 2"),
        (lambda n: n.add_link(("s1", "eth2"), ("s1", "eth2")), "to itself"),
        (lambda n: n.add_link(("s1", "eth2"), ("s2", "eth1")), "port 'eth1' of 's2' is already"),
        (lambda n: n.add_link(("s1", "eth2"), ("s3", "eth1")), "no device named 's3'; devices"),
        (lambda n: n.add_link(("s1", "eth9"), ("s2", "eth1")), "has no port 'eth9'; ports: eth1"),
        (lambda n: n.set_link_status("nope", DOWN), "no link named 'nope'; links: s1-s2"),
        (lambda n: n.set_port_status("s1", "eth9", DOWN), "has no port 'eth9'"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    build: Callable[[EmulatedNetwork], object], message: str
) -> None:
    network = _network()
    with pytest.raises(EmulationError, match=message):
        build(network)


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="latency_s must be >= 0, got -1"):
        EmulatedNetwork(latency_s=-1)


# -- ports and links -----------------------------------------------------------------------


async def test_a_port_down_takes_its_link_peer_down_and_both_devices_hear_it() -> None:
    network = _network()
    s1, s1_events = await _connected(network, "s1")
    _, s2_events = await _connected(network, "s2")
    network.set_port_status("s2", "eth1", DOWN)
    assert _port_events(s1_events) == [(device_id("s1"), "eth1", DOWN)]
    assert _port_events(s2_events) == [(device_id("s2"), "eth1", DOWN)]
    state = await s1.get_state()
    assert {p.name: p.status for p in state.ports} == {"eth1": DOWN, "eth2": UP}
    network.set_link_status("s1-s2", UP)
    assert _port_events(s1_events)[-1] == (device_id("s1"), "eth1", UP)
    assert _port_events(s2_events)[-1] == (device_id("s2"), "eth1", UP)


async def test_an_unlinked_port_changes_alone_and_unchanged_status_is_silent() -> None:
    network = _network()
    _, s1_events = await _connected(network, "s1")
    _, s2_events = await _connected(network, "s2")
    network.set_port_status("s1", "eth2", UP)
    network.set_port_status("s1", "eth2", DOWN)
    assert _port_events(s1_events) == [(device_id("s1"), "eth2", DOWN)]
    assert s2_events == []


async def test_a_disconnected_driver_hears_nothing() -> None:
    network = _network()
    driver, events = await _connected(network, "s1")
    await driver.disconnect()
    network.set_port_status("s1", "eth2", DOWN)
    assert events == []


async def test_a_failing_handler_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    network = _network()
    driver = _driver(network, "s1")
    await driver.connect()
    heard: list[DriverEvent] = []

    def broken(event: DriverEvent) -> None:
        raise RuntimeError("handler bug")

    driver.subscribe(broken)
    driver.subscribe(heard.append)
    with caplog.at_level(logging.ERROR):
        network.set_port_status("s1", "eth2", DOWN)
    assert len(heard) == 1
    assert "handler bug" in caplog.text


# -- frames --------------------------------------------------------------------------------


async def test_a_frame_crosses_an_up_link_and_arrives_as_packet_in() -> None:
    network = _network()
    s1, s1_events = await _connected(network, "s1")
    _, s2_events = await _connected(network, "s2")
    await s1.send_packet(1, b"frame")
    assert s2_events == [PacketIn(device_id=device_id("s2"), in_port=1, data=b"frame")]
    assert s1_events == []


async def test_frames_out_of_down_or_unlinked_ports_or_to_lost_devices_are_lost() -> None:
    network = _network()
    s1, _ = await _connected(network, "s1")
    _, s2_events = await _connected(network, "s2")
    await s1.send_packet(2, b"unlinked")
    network.set_reachable("s2", False)
    await s1.send_packet(1, b"unreachable")
    network.set_reachable("s2", True)
    assert not any(isinstance(e, PacketIn) for e in s2_events)
    s2_events.clear()
    network.set_link_status("s1-s2", DOWN)
    await s1.send_packet(1, b"down")
    assert s2_events == [PortStatusChanged(device_id=device_id("s2"), port=network.ports("s2")[0])]


async def test_sending_out_of_an_unknown_port_number_fails() -> None:
    s1, _ = await _connected(_network(), "s1")
    with pytest.raises(DriverError, match="no port numbered 7; numbers: 1, 2"):
        await s1.send_packet(7, b"x")


# -- reachability --------------------------------------------------------------------------


async def test_an_unreachable_device_refuses_connections() -> None:
    network = _network()
    network.set_reachable("s1", False)
    driver = _driver(network, "s1")
    with pytest.raises(DeviceUnreachableError, match="'s1' is unreachable"):
        await driver.connect()
    assert not driver.connected
    network.set_reachable("s1", True)
    await driver.connect()
    assert driver.connected


async def test_a_device_lost_while_connected_reports_down_then_up() -> None:
    network = _network()
    driver, events = await _connected(network, "s1")
    network.set_reachable("s1", False)
    with pytest.raises(DeviceUnreachableError):
        await driver.get_state()
    with pytest.raises(DeviceUnreachableError):
        await driver.apply([_rule("/a")])
    network.set_reachable("s1", True)
    assert (await driver.get_state()).status == UP
    assert events == [
        DeviceStatusChanged(device_id=device_id("s1"), status=DOWN),
        DeviceStatusChanged(device_id=device_id("s1"), status=UP),
    ]


async def test_operations_need_a_connection() -> None:
    driver = _driver(_network(), "s1")
    with pytest.raises(DriverError, match="'s1': not connected"):
        await driver.get_state()


# -- rules and injected failures -----------------------------------------------------------


async def test_a_failing_rule_aborts_its_whole_batch() -> None:
    network = _network()
    driver, _ = await _connected(network, "s1")
    await driver.apply([_rule("/kept")])
    network.fail_rules("/bad", "table full")
    results = await driver.apply([_rule("/a"), _rule("/bad"), _rule("/kept")])
    assert [(r.ok, r.error) for r in results] == [
        (False, f"{BATCH_ABORTED}: rule r/bad failed"),
        (False, "table full"),
        (False, f"{BATCH_ABORTED}: rule r/bad failed"),
    ]
    assert network.rules("s1") == {"/kept": {}}


async def test_failures_match_by_predicate_device_and_operation() -> None:
    network = _network()
    s1, _ = await _connected(network, "s1")
    s2, _ = await _connected(network, "s2")
    lift = network.fail_rules(lambda rule: rule.key.endswith("x"), "no x", device="s2")
    network.fail_rules("/undeletable", "busy", on_delete=True)
    assert (await s1.apply([_rule("/x")]))[0].ok
    assert (await s2.apply([_rule("/x", "s2")]))[0].error == "no x"
    lift()
    lift()
    assert (await s2.apply([_rule("/x", "s2")]))[0].ok
    assert (await s1.delete([_rule("/undeletable")]))[0].error == "busy"
    network.clear_failures()
    assert (await s1.delete([_rule("/undeletable")]))[0].ok


async def test_a_rule_for_another_device_is_refused() -> None:
    driver, _ = await _connected(_network(), "s1")
    [result] = await driver.apply([_rule("/a", device="s2")])
    assert not result.ok
    assert result.error == f"rule is for device {device_id('s2')}, not {device_id('s1')}"


async def test_state_and_tables_are_copies() -> None:
    network = _network()
    driver, _ = await _connected(network, "s1")
    rule = ConfigRule(id="r", owner="t", device_id=device_id("s1"), key="/k", value={"a": [1]})
    await driver.apply([rule])
    rule.value["a"].append(2)
    (await driver.get_state()).rules["/k"]["a"].append(3)
    network.rules("s1")["/k"]["a"].append(4)
    assert network.rules("s1") == {"/k": {"a": [1]}}


def test_injected_failures_need_a_message_and_a_known_device() -> None:
    network = _network()
    with pytest.raises(ValueError, match="non-empty message"):
        network.fail_rules("/", "")
    with pytest.raises(EmulationError, match="no device named 's9'"):
        network.fail_rules("/", "x", device="s9")


# -- latency -------------------------------------------------------------------------------


async def test_latency_delays_the_operation_before_it_takes_effect() -> None:
    network = _network()
    driver, _ = await _connected(network, "s1")
    network.latency_s = 3600
    pending = asyncio.create_task(driver.apply([_rule("/slow")]))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not pending.done()
    assert network.rules("s1") == {}
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert network.rules("s1") == {}


# -- plugin --------------------------------------------------------------------------------


async def test_the_plugin_adds_unknown_devices_and_disconnects_on_stop() -> None:
    plugin = Registry().load("emulated")()
    assert isinstance(plugin, EmulatedPlugin)
    await plugin.start()
    driver = plugin.create(Device(id=device_id("new"), name="new"))
    assert plugin.network.devices() == ["new"]
    await driver.connect()
    assert (await driver.get_state()).ports == []
    await plugin.stop()
    assert not driver.connected


async def test_a_plugin_drives_the_network_it_is_given() -> None:
    network = _network()
    driver = EmulatedPlugin(network).create(Device(id=device_id("s1"), name="s1"))
    await driver.connect()
    assert [p.name for p in (await driver.get_state()).ports] == ["eth1", "eth2"]
    assert network.devices() == ["s1", "s2"]
