"""The OpenFlow driver against real Open vSwitch (the lab's private userspace OVS), as root.

Each test gets a lab of one switch ``s1`` with hosts ``h1`` and ``h2`` on ports 1 and 2,
whose bridge connects to the test's controller; the lab fixture removes it afterwards.
A port is toggled from the far end of its veth (the host side), as a cable pull would.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable

import pytest

from netweave.drivers.conformance import DriverConformance, TogglePort
from netweave.drivers.contract import DeviceStatusChanged, DriverEvent, PacketIn
from netweave.drivers.openflow import (
    OpenFlowDriver,
    OpenFlowPlugin,
    canonical_value,
    parse_rule,
    rule_key,
)
from netweave.lab import Lab, LabOptions, ovs
from netweave.lab.shell import run
from netweave.model import ConfigRule, Device, OperStatus, TopologyDescriptor
from netweave.model.ids import device_id, rule_id

DPID = "00000000000000a1"
LabFactory = Callable[..., Lab]
ONE_SWITCH = TopologyDescriptor.model_validate(
    {
        "name": "of1",
        "devices": [
            {
                "name": "s1",
                "type": "switch",
                "attributes": {"datapath_id": DPID},
                "ports": [{"name": "p1", "number": 1}, {"name": "p2", "number": 2}],
            },
            {"name": "h1", "type": "host", "ip": "10.0.0.1/24"},
            {"name": "h2", "type": "host", "ip": "10.0.0.2/24"},
        ],
        "links": [
            {"a": {"device": "h1", "port": "eth0"}, "b": {"device": "s1", "port": "p1"}},
            {"a": {"device": "h2", "port": "eth0"}, "b": {"device": "s1", "port": "p2"}},
        ],
    }
)


class SwitchLab:
    """The lab of `ONE_SWITCH` and what the tests do to it from outside the controller."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.far_ends = {  # switch interface name -> (host namespace, host interface)
            s1.ifname: (h.netns, h.ifname)
            for link in lab.plan.links
            for s1, h in (link.ends, link.ends[::-1])
            if s1.device == "s1" and h.netns is not None
        }

    def ofctl(self, *args: str) -> str:
        return self.lab.ofctl("s1", *args)

    def set_link(self, ifname: str, up: bool) -> None:
        """Take the far end of the switch port `ifname` down or up (the switch sees carrier)."""
        netns, peer = self.far_ends[ifname]
        run(["ip", "-n", netns, "link", "set", peer, "up" if up else "down"])

    def inject(self, host: str, frame: bytes) -> None:
        """Send `frame` from `host`'s interface into the switch."""
        code = (
            "import socket,sys;s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);"
            "s.bind(('eth0',0));s.send(bytes.fromhex(sys.argv[1]))"
        )
        done = self.lab.exec(host, ["python3", "-c", code, frame.hex()])
        assert done.returncode == 0, done.stderr

    def crash_switch(self) -> None:
        pid = ovs.running_pid(self.lab.paths, ovs.VSWITCHD)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    def start_switch(self) -> None:
        argv = ovs.start_vswitchd(self.lab.paths, self.lab.options.datapath)
        run(argv, env=self.lab.paths.env())


@pytest.fixture
async def plugin() -> AsyncIterator[OpenFlowPlugin]:
    plugin = OpenFlowPlugin(port=0, connect_timeout=15.0)
    await plugin.start()
    try:
        yield plugin
    finally:
        await plugin.stop()


@pytest.fixture
def switch(plugin: OpenFlowPlugin, lab_factory: LabFactory) -> SwitchLab:
    options = LabOptions(controller=f"tcp:127.0.0.1:{plugin.port}")
    return SwitchLab(lab_factory(ONE_SWITCH, options))


def s1() -> Device:
    return Device(id=device_id("s1"), name="s1", attributes={"datapath_id": DPID})


@pytest.fixture
async def driver(plugin: OpenFlowPlugin, switch: SwitchLab) -> AsyncIterator[OpenFlowDriver]:
    driver = plugin.create(s1())
    await driver.connect()
    try:
        yield driver
    finally:
        await driver.disconnect()


def config_rule(value: dict[str, object]) -> ConfigRule:
    typed = parse_rule(value)
    key = rule_key(typed)
    return ConfigRule(
        id=rule_id("test", "s1", key),
        owner="test",
        device_id=device_id("s1"),
        key=key,
        value=canonical_value(typed),
    )


def forward(in_port: int, out: int) -> ConfigRule:
    return config_rule(
        {
            "kind": "flow",
            "priority": 10,
            "match": {"in_port": in_port},
            "actions": [{"type": "output", "port": out}],
        }
    )


BAD_PREREQ = {"kind": "flow", "priority": 5, "match": {"ipv4_dst": "10.0.0.1"}}


async def until(condition: object, within_s: float = 10.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(within_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


class TestOpenFlowOvsConformance(DriverConformance):
    event_timeout_s = 10.0

    @pytest.fixture
    def conformance_driver(self, plugin: OpenFlowPlugin, switch: SwitchLab) -> OpenFlowDriver:
        return plugin.create(s1())

    @pytest.fixture
    def sample_rules(self) -> list[ConfigRule]:
        return [
            forward(1, 2),
            forward(2, 1),
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
            config_rule(
                {
                    "kind": "flow",
                    "table_id": 0,
                    "priority": 20,
                    "match": {"eth_type": 0x0800, "ipv4_dst": "10.0.0.0/24"},
                    "actions": [
                        {"type": "push_vlan"},
                        {"type": "set_field", "field": "vlan_vid", "value": 100},
                        {"type": "group", "group_id": 7},
                    ],
                    "meter_id": 1,
                }
            ),
        ]

    @pytest.fixture
    def rejected_rule(self) -> ConfigRule:
        return config_rule(BAD_PREREQ)

    @pytest.fixture
    def toggle_port(self, switch: SwitchLab) -> TogglePort:
        async def toggle(name: str, status: OperStatus) -> None:
            switch.set_link(name, status == OperStatus.UP)

        return toggle


async def test_applied_flows_are_in_the_switch_table(
    driver: OpenFlowDriver, switch: SwitchLab
) -> None:
    rules = [forward(1, 2), forward(2, 1)]
    assert all(r.ok for r in await driver.apply(rules))
    dump = switch.ofctl("dump-flows", "--no-names", "--no-stats")
    assert "priority=10,in_port=1 actions=output:2" in dump
    assert "priority=10,in_port=2 actions=output:1" in dump
    assert dump.count("cookie=0x4e57") == 2
    assert all(r.ok for r in await driver.delete(rules))
    assert "cookie=0x4e57" not in switch.ofctl("dump-flows")


TO_MISSING_GROUP = {
    "kind": "flow",
    "priority": 9,
    "match": {"in_port": 2},
    "actions": [{"type": "group", "group_id": 99}],
}
METER = {"kind": "meter", "meter_id": 3, "rate_kbps": 500}


@pytest.mark.parametrize(
    ("refused", "reason"),
    [
        (BAD_PREREQ, "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ"),
        (TO_MISSING_GROUP, "OFPET_BAD_ACTION/OFPBAC_BAD_OUT_GROUP"),
    ],
)
async def test_a_rule_the_switch_refuses_fails_with_its_error(
    driver: OpenFlowDriver, switch: SwitchLab, refused: dict[str, object], reason: str
) -> None:
    batch = [config_rule(METER), forward(1, 2), config_rule(refused)]
    results = await driver.apply(batch)
    assert results[2].error == reason
    assert all(r.error and "batch aborted" in r.error for r in results[:2])
    assert "cookie=0x4e57" not in switch.ofctl("dump-flows")
    assert "meter=3" not in switch.ofctl("dump-meters"), "the meter set first is rolled back"


async def test_packets_in_and_out(driver: OpenFlowDriver, switch: SwitchLab) -> None:
    punt = config_rule(
        {
            "kind": "flow",
            "priority": 1,
            "match": {"in_port": 2},
            "actions": [{"type": "output", "port": "controller"}],
        }
    )
    assert all(r.ok for r in await driver.apply([punt]))
    events: list[DriverEvent] = []
    driver.subscribe(events.append)
    frame = bytes.fromhex("ffffffffffff02000000000188b5") + b"netweave".ljust(46, b"\0")
    switch.inject("h2", frame)
    await until(lambda: any(isinstance(e, PacketIn) and e.data == frame for e in events))
    sent = {p.port: p.tx_packets for p in await driver.port_stats()}
    await driver.send_packet(1, frame)

    async with asyncio.timeout(10):
        while True:
            if {p.port: p.tx_packets for p in await driver.port_stats()}[1] > sent[1]:
                return
            await asyncio.sleep(0.1)


async def test_a_restarted_switch_reconnects(driver: OpenFlowDriver, switch: SwitchLab) -> None:
    events: list[DriverEvent] = []
    driver.subscribe(events.append)
    assert all(r.ok for r in await driver.apply([forward(1, 2)]))
    switch.crash_switch()
    down = DeviceStatusChanged(device_id=driver.device.id, status=OperStatus.DOWN)
    await until(lambda: down in events)
    switch.start_switch()
    up = DeviceStatusChanged(device_id=driver.device.id, status=OperStatus.UP)
    await until(lambda: up in events, within_s=20)
    rule = forward(2, 1)
    assert all(r.ok for r in await driver.apply([rule]))
    assert rule.key in (await driver.get_state()).rules


async def test_meter_statistics_count_what_entered_and_what_was_dropped(
    driver: OpenFlowDriver, switch: SwitchLab
) -> None:
    meter = config_rule({"kind": "meter", "meter_id": 5, "rate_kbps": 8})
    metered = config_rule(
        {
            "kind": "flow",
            "priority": 20,
            "match": {"in_port": 1},
            "meter_id": 5,
            "actions": [{"type": "output", "port": 2}],
        }
    )
    assert all(r.ok for r in await driver.apply([meter, metered]))
    frame = bytes.fromhex("ffffffffffff02000000000188b5") + bytes(1000)
    for _ in range(20):  # 20 kB at once: far above 8 kbit/s, most of it is dropped
        switch.inject("h1", frame)
    stats = {m.meter_id: m for m in await driver.meter_stats()}
    counted = stats[5]  # the host's own chatter (IPv6 solicitations) may add a few
    assert counted.flow_count == 1
    assert counted.packets_in >= 20 and counted.bytes_in >= 20 * len(frame)
    assert 0 < counted.dropped_packets <= counted.packets_in
    assert 0 < counted.dropped_bytes <= counted.bytes_in
