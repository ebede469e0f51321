"""The OpenFlow driver against fake switches over real TCP (no root): handshake,
keepalive, bundles and errors, events, reconnects, malformed peers, and the conformance kit."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from netweave.drivers.conformance import DriverConformance, TogglePort
from netweave.drivers.contract import (
    DeviceStatusChanged,
    DeviceUnreachableError,
    DriverEvent,
    PacketIn,
)
from netweave.drivers.openflow import (
    DatapathInfo,
    FlowRule,
    InvalidDeviceError,
    OpenFlowDriver,
    OpenFlowPlugin,
    canonical_value,
    parse_rule,
    rule_key,
    wire,
)
from netweave.drivers.openflow.fake_switch import FakeSwitch
from netweave.model import ConfigRule, Device, OperStatus
from netweave.model.ids import device_id, rule_id

DPID = 0x1A
OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ = 4, 9


def config_rule(value: dict[str, Any], device: str = "s1") -> ConfigRule:
    """A rule with its canonical key and value, as a reconciler builds it."""
    typed = parse_rule(value)
    key = rule_key(typed)
    return ConfigRule(
        id=rule_id("test", device, key),
        owner="test",
        device_id=device_id(device),
        key=key,
        value=canonical_value(typed),
    )


def in_port_flow(port: int, out: int, priority: int = 10) -> ConfigRule:
    return config_rule(
        {
            "kind": "flow",
            "priority": priority,
            "match": {"in_port": port},
            "actions": [{"type": "output", "port": out}],
        }
    )


def refuses_ipv4_without_ethertype(switch: FakeSwitch) -> None:
    """The prerequisite check Open vSwitch makes, answered with its error."""
    switch.refuse_flows(
        lambda mod: "ipv4_dst" in mod.match and "eth_type" not in mod.match,
        OFPET_BAD_MATCH,
        OFPBMC_BAD_PREREQ,
    )


BAD_PREREQ_RULE = {"kind": "flow", "priority": 5, "match": {"ipv4_dst": "10.0.0.1"}}


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


@pytest.fixture
async def plugin() -> AsyncIterator[OpenFlowPlugin]:
    plugin = OpenFlowPlugin(port=0, connect_timeout=2.0, echo_interval=0.2, echo_timeout=0.6)
    await plugin.start()
    try:
        yield plugin
    finally:
        await plugin.stop()


@pytest.fixture
async def switch(plugin: OpenFlowPlugin) -> AsyncIterator[FakeSwitch]:
    switch = FakeSwitch(DPID, {1: "s1-eth1", 2: "s1-eth2"})
    refuses_ipv4_without_ethertype(switch)
    await switch.connect(plugin.port)
    try:
        yield switch
    finally:
        await switch.close()


def device(dpid: str = f"{DPID:#x}") -> Device:
    return Device(id=device_id("s1"), name="s1", attributes={"datapath_id": dpid})


@pytest.fixture
async def driver(plugin: OpenFlowPlugin, switch: FakeSwitch) -> AsyncIterator[OpenFlowDriver]:
    driver = plugin.create(device())
    await driver.connect()
    try:
        yield driver
    finally:
        await driver.disconnect()


class TestOpenFlowFakeSwitchConformance(DriverConformance):
    @pytest.fixture
    def conformance_driver(self, plugin: OpenFlowPlugin, switch: FakeSwitch) -> OpenFlowDriver:
        return plugin.create(device())

    @pytest.fixture
    def sample_rules(self) -> list[ConfigRule]:
        return [
            in_port_flow(1, 2),
            in_port_flow(2, 1),
            config_rule({"kind": "meter", "meter_id": 1, "rate_kbps": 1000}),
            config_rule(
                {
                    "kind": "group",
                    "group_id": 7,
                    "type": "ff",
                    "buckets": [
                        {"watch_port": 1, "actions": [{"type": "output", "port": 1}]},
                        {"watch_port": 2, "actions": [{"type": "output", "port": 2}]},
                    ],
                }
            ),
        ]

    @pytest.fixture
    def rejected_rule(self) -> ConfigRule:
        return config_rule(BAD_PREREQ_RULE)

    @pytest.fixture
    def toggle_port(self, switch: FakeSwitch) -> TogglePort:
        numbers = {port.name: number for number, port in switch.ports.items()}

        async def toggle(name: str, status: OperStatus) -> None:
            switch.set_port(numbers[name], status == OperStatus.UP)

        return toggle


# --- handshake and binding --------------------------------------------------------------------


async def test_handshake_reports_the_datapath_and_its_ports(plugin: OpenFlowPlugin) -> None:
    seen: list[DatapathInfo] = []
    plugin.on_datapath(seen.append)
    switch = FakeSwitch(0xABC, {3: "p3"})
    await switch.connect(plugin.port)
    try:
        await until(lambda: bool(seen))
        assert seen[0].datapath_id == "0000000000000abc"
        assert [(p.name, p.number, p.status) for p in seen[0].ports] == [("p3", 3, OperStatus.UP)]
    finally:
        await switch.close()


async def test_connect_waits_for_a_switch_that_connects_later(plugin: OpenFlowPlugin) -> None:
    driver = plugin.create(device("00:00:00:00:00:00:00:1a"))
    switch = FakeSwitch(DPID, {1: "p1"})
    connecting = asyncio.create_task(driver.connect())
    await asyncio.sleep(0.1)
    await switch.connect(plugin.port)
    try:
        await connecting
        assert (await driver.get_state()).status == OperStatus.UP
    finally:
        await switch.close()


async def test_connect_to_an_absent_switch_is_unreachable() -> None:
    plugin = OpenFlowPlugin(port=0, connect_timeout=0.2)
    await plugin.start()
    try:
        driver = plugin.create(device())
        with pytest.raises(DeviceUnreachableError, match=r"has not connected within 0\.2s"):
            await driver.connect()
        with pytest.raises(DeviceUnreachableError, match="not connected"):
            await driver.get_state()
    finally:
        await plugin.stop()


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [({}, "datapath_id is missing"), ({"datapath_id": "nope"}, "not a 64-bit hex number")],
)
def test_a_device_without_a_usable_datapath_id_is_refused(
    plugin: OpenFlowPlugin, attributes: dict[str, str], reason: str
) -> None:
    with pytest.raises(InvalidDeviceError, match=reason):
        plugin.create(Device(id="d", name="s9", attributes=attributes))


# --- keepalive ------------------------------------------------------------------------------------


async def test_switch_echo_requests_are_answered(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    switch.send_raw(struct.pack("!BBHI", 4, 2, 12, 99) + b"ping")
    await until(lambda: 3 in switch.message_types)


async def test_a_quiet_switch_is_probed_and_a_silent_one_dropped(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    events: list[DriverEvent] = []
    driver.subscribe(events.append)
    await until(lambda: 2 in switch.message_types)  # echo request while idle
    await asyncio.sleep(0.7)
    assert switch.connected, "a switch answering echoes stays connected"
    switch.answer_echo = False
    down = DeviceStatusChanged(device_id=driver.device.id, status=OperStatus.DOWN)
    await until(lambda: down in events)
    with pytest.raises(DeviceUnreachableError):
        await driver.get_state()


# --- rules ----------------------------------------------------------------------------------------


async def test_a_refused_rule_carries_the_switch_error_and_aborts_the_batch(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    good = in_port_flow(1, 2)
    meter = config_rule({"kind": "meter", "meter_id": 4, "rate_kbps": 100})
    bad = config_rule(BAD_PREREQ_RULE)
    results = await driver.apply([meter, good, bad])
    assert [r.ok for r in results] == [False, False, False]
    assert results[2].error == "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ"
    assert results[0].error is not None and "batch aborted" in results[0].error
    assert results[1].error == results[0].error
    assert f"rule {bad.id} failed: OFPET_BAD_MATCH" in results[0].error
    assert switch.flows == {}
    assert switch.meters == {}, "the meter set before the bundle is rolled back"


async def test_a_meter_already_present_is_modified_and_restored_on_failure(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    first = config_rule({"kind": "meter", "meter_id": 4, "rate_kbps": 100})
    assert all(r.ok for r in await driver.apply([first]))
    before = dict(switch.meters)
    faster = config_rule({"kind": "meter", "meter_id": 4, "rate_kbps": 900, "burst_kbits": 9})
    assert all(r.ok for r in await driver.apply([faster]))
    assert (await driver.get_state()).rules[faster.key] == faster.value
    assert not any(r.ok for r in await driver.apply([first, config_rule(BAD_PREREQ_RULE)]))
    assert switch.meters != before
    assert (await driver.get_state()).rules[faster.key] == faster.value


async def test_a_switch_refusing_bundles_fails_the_batch_with_its_reason(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    switch.bundles = False
    results = await driver.apply([in_port_flow(1, 2)])
    assert (
        results[0].error
        == "batch aborted (bundle refused: OFPET_BAD_REQUEST/OFPBRC_BAD_EXPERIMENTER)"
    )


async def test_invalid_payloads_and_keys_fail_without_touching_the_switch(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    good = in_port_flow(1, 2)
    bad_value = good.model_copy(update={"id": "x1", "value": {"kind": "flow", "priority": -1}})
    bad_key = good.model_copy(update={"id": "x2", "key": "/flow/whatever"})
    results = await driver.apply([good, bad_value, bad_key])
    assert results[1].error == "value.priority: Input should be greater than or equal to 0"
    assert results[2].error is not None and results[2].error.startswith("key: '/flow/whatever'")
    assert results[0].error is not None and "batch aborted" in results[0].error
    assert 14 not in switch.message_types and 4 not in switch.message_types


async def test_large_batches_are_pipelined_into_one_bundle(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    rules = [in_port_flow(1, 2, priority=p) for p in range(3000)]
    assert all(r.ok for r in await driver.apply(rules))
    assert len(switch.flows) == 3000
    assert switch.message_types.count(4) == 3000 + 2  # adds, open and commit
    state = await driver.get_state()
    assert all(state.rules[r.key] == r.value for r in rules)


async def test_foreign_flows_are_not_reported(driver: OpenFlowDriver, switch: FakeSwitch) -> None:
    rule = in_port_flow(1, 2)
    assert all(r.ok for r in await driver.apply([rule]))
    foreign = parse_rule({"kind": "flow", "priority": 3})
    assert isinstance(foreign, FlowRule)
    switch.install(wire.flow_mod(foreign, cookie=0x1, xid=0))
    assert len(switch.flows) == 2
    assert list((await driver.get_state()).rules) == [rule.key]


async def test_entries_netweave_cannot_express_are_left_out(
    driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    rule = config_rule({"kind": "meter", "meter_id": 1, "rate_kbps": 100})
    assert all(r.ok for r in await driver.apply([rule]))
    remark = struct.pack("!BBHIHHI", 4, 29, 32, 0, 0, 1, 9) + struct.pack(
        "!HHIIB3x", 2, 16, 1, 0, 1
    )
    switch.install(remark)  # a meter with a DSCP-remark band: not a netweave meter
    assert list((await driver.get_state()).rules) == [rule.key]


async def test_statistics_are_typed(driver: OpenFlowDriver) -> None:
    rule = in_port_flow(1, 2)
    await driver.apply([rule])
    [flow] = await driver.flow_stats()
    assert (flow.key, flow.packets, flow.priority) == (rule.key, 0, 10)
    assert [p.port for p in await driver.port_stats()] == [1, 2]


# --- packets and events ---------------------------------------------------------------------------


async def test_packet_in_and_packet_out(driver: OpenFlowDriver, switch: FakeSwitch) -> None:
    events: list[DriverEvent] = []
    driver.subscribe(events.append)
    frame = bytes(range(60))
    switch.packet_in(2, frame)
    expected = PacketIn(device_id=driver.device.id, in_port=2, data=frame, reason="no_match")
    await until(lambda: expected in events)
    await driver.send_packet(1, frame)
    await until(lambda: bool(switch.packets_out))
    assert switch.packets_out[0].endswith(frame)


async def test_a_reconnecting_switch_gets_a_fresh_session(
    plugin: OpenFlowPlugin, driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    events: list[DriverEvent] = []
    driver.subscribe(events.append)
    await switch.close()
    down = DeviceStatusChanged(device_id=driver.device.id, status=OperStatus.DOWN)
    await until(lambda: down in events)
    with pytest.raises(DeviceUnreachableError):
        await driver.apply([in_port_flow(1, 2)])
    await switch.connect(plugin.port)
    up = DeviceStatusChanged(device_id=driver.device.id, status=OperStatus.UP)
    await until(lambda: up in events)
    assert all(r.ok for r in await driver.apply([in_port_flow(1, 2)]))


async def test_a_second_connection_of_a_datapath_replaces_the_first(
    plugin: OpenFlowPlugin, driver: OpenFlowDriver, switch: FakeSwitch
) -> None:
    twin = FakeSwitch(DPID, {5: "twin-eth5"})
    await twin.connect(plugin.port)
    try:
        await until(lambda: not switch.connected)
        assert [p.name for p in (await driver.get_state()).ports] == ["twin-eth5"]
    finally:
        await twin.close()


# --- malformed peers -----------------------------------------------------------------------------

HELLO_13 = struct.pack("!BBHI", 4, 0, 8, 1)
MALFORMED = {
    "garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "short length": struct.pack("!BBHI", 4, 0, 4, 1),
    "only OpenFlow 1.0": struct.pack("!BBHI", 1, 0, 8, 1),
    "wrong version after hello": HELLO_13 + struct.pack("!BBHI", 1, 6, 8, 2),
    "not hello first": struct.pack("!BBHI", 4, 5, 8, 1),
    "truncated body": struct.pack("!BBHI", 4, 0, 64, 1) + b"\0" * 10,
    "undecodable port status": HELLO_13 + struct.pack("!BBHI", 4, 12, 12, 2) + b"\xff" * 4,
    "oversized length": HELLO_13 + struct.pack("!BBHI", 4, 6, 0xFFFF, 3) + b"\0" * 100,
    "packet-in without in_port": HELLO_13
    + struct.pack("!BBHI", 4, 10, 34, 2)
    + struct.pack("!IHBBQ", 0xFFFFFFFF, 0, 0, 0, 0)
    + struct.pack("!HH4x", 1, 4)
    + b"\0\0",
}


async def test_a_switch_without_openflow_13_is_told_why(plugin: OpenFlowPlugin) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", plugin.port)
    writer.write(MALFORMED["only OpenFlow 1.0"])
    received = b""
    async with asyncio.timeout(5):
        while chunk := await reader.read(65536):
            received += chunk
    writer.close()
    hello, error = received[:16], received[16:]
    assert hello[1] == 0
    assert struct.unpack("!BBHIHH", error[:12])[1:] == (1, len(error), 1, 0, 0)
    assert error.endswith(b"OpenFlow 1.3")


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_malformed_peers_are_dropped_and_others_served(
    plugin: OpenFlowPlugin, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", plugin.port)
    writer.write(MALFORMED[name])
    if name == "truncated body":
        writer.write_eof()
    async with asyncio.timeout(5):
        while await reader.read(65536):
            pass  # the server closes the connection
    writer.close()
    assert "dropped" in caplog.text or "closing" in caplog.text
    good = FakeSwitch(0x77, {1: "p1"})
    await good.connect(plugin.port)
    try:
        driver = plugin.create(device("0x77"))
        await driver.connect()
        assert (await driver.get_state()).status == OperStatus.UP
    finally:
        await good.close()
