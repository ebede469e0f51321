"""The OpenFlow driver against real Open vSwitch (userspace datapath), as root.

Each test gets a private switch: its own ovsdb-server and ovs-vswitchd in a temporary
directory, the vswitchd in its own network namespace (two userspace datapaths cannot
share one), a bridge with two veth ports, and a veth link to the controller, which
listens on the host side. Everything is removed afterwards, even on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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
from netweave.model import ConfigRule, Device, OperStatus
from netweave.model.ids import device_id, rule_id

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("ovs-vswitchd") is None, reason="needs Open vSwitch"),
]

DPID = "00000000000000a1"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


class PrivateOvs:
    """A throwaway Open vSwitch with bridge ``br0`` and ports 1 and 2 (``s1-eth1/2``)."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.netns = f"nwof{tag}"
        self.host_link = f"nwc{tag}"
        subnet = random.randrange(0, 1 << 14) << 2  # a random /30 in 169.254.0.0/16
        self.controller_ip = f"169.254.{subnet >> 8 & 0xFF}.{(subnet & 0xFF) + 1}"
        self.switch_ip = f"169.254.{subnet >> 8 & 0xFF}.{(subnet & 0xFF) + 2}"
        self.dir = Path(tempfile.mkdtemp(prefix="nwof-ovs-"))
        self.env = {**os.environ, "OVS_RUNDIR": str(self.dir), "OVS_DBDIR": str(self.dir)}
        self.db = f"unix:{self.dir}/db.sock"

    def start(self) -> None:
        d = self.dir
        run("ip", "netns", "add", self.netns)
        run("ip", "-n", self.netns, "link", "set", "lo", "up")
        run("ip", "link", "add", self.host_link, "type", "veth", "peer", "ctl", "netns", self.netns)
        run("ip", "addr", "add", f"{self.controller_ip}/30", "dev", self.host_link)
        run("ip", "link", "set", self.host_link, "up")
        run("ip", "-n", self.netns, "addr", "add", f"{self.switch_ip}/30", "dev", "ctl")
        run("ip", "-n", self.netns, "link", "set", "ctl", "up")
        run("ovsdb-tool", "create", f"{d}/conf.db", SCHEMA)
        run(
            "ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
            f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl",
            f"--log-file={d}/ovsdb-server.log", "--detach", "--no-chdir", env=self.env,
        )  # fmt: skip
        self.vsctl("--no-wait", "init")
        self.start_vswitchd()
        self.vsctl(
            "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
            f"other-config:datapath-id={DPID}", "protocols=OpenFlow13", "fail-mode=secure",
        )  # fmt: skip
        for number in (1, 2):
            port = f"s1-eth{number}"
            run("ip", "-n", self.netns, "link", "add", port, "type", "veth", "peer", f"h{number}")
            run("ip", "-n", self.netns, "link", "set", port, "up")
            run("ip", "-n", self.netns, "link", "set", f"h{number}", "up")
            self.vsctl(
                "add-port", "br0", port, "--", "set", "interface", port,
                f"ofport_request={number}",
            )  # fmt: skip

    def start_vswitchd(self) -> None:
        d = self.dir
        run(
            "ip", "netns", "exec", self.netns, "ovs-vswitchd", self.db,
            f"--pidfile={d}/ovs-vswitchd.pid", f"--unixctl={d}/ovs-vswitchd.ctl",
            f"--log-file={d}/ovs-vswitchd.log", "--detach", "--no-chdir", env=self.env,
        )  # fmt: skip

    def stop_vswitchd(self) -> None:
        self._kill("ovs-vswitchd")

    def vsctl(self, *args: str) -> str:
        return run("ovs-vsctl", f"--db={self.db}", "--timeout=10", *args, env=self.env)

    def ofctl(self, *args: str) -> str:
        return run("ovs-ofctl", "-O", "OpenFlow13", *args, env=self.env)

    def set_controller(self, port: int) -> None:
        self.vsctl("set-controller", "br0", f"tcp:{self.controller_ip}:{port}")

    def set_link(self, number: int, up: bool) -> None:
        """Take the far end of port `number`'s veth down or up (the switch sees carrier)."""
        run("ip", "-n", self.netns, "link", "set", f"h{number}", "up" if up else "down")

    def inject(self, number: int, frame: bytes) -> None:
        """Send `frame` into port `number` from the far end of its veth."""
        code = (
            "import socket,sys;s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);"
            f"s.bind(('h{number}',0));s.send(bytes.fromhex(sys.argv[1]))"
        )
        run("ip", "netns", "exec", self.netns, "python3", "-c", code, frame.hex())

    def _kill(self, daemon: str) -> None:
        """SIGKILL (a crash, and fast: a clean exit takes seconds) and wait until gone."""
        pidfile = self.dir / f"{daemon}.pid"
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        stat = Path(f"/proc/{pid}/stat")
        with contextlib.suppress(FileNotFoundError):
            while stat.read_text().split(") ", 1)[1][0] != "Z":  # a zombie is gone enough
                time.sleep(0.02)
        pidfile.unlink()

    def cleanup(self) -> None:
        self._kill("ovs-vswitchd")
        self._kill("ovsdb-server")
        subprocess.run(["ip", "link", "del", self.host_link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def ovs() -> Iterator[PrivateOvs]:
    switch = PrivateOvs()
    try:
        switch.start()
        yield switch
    finally:
        switch.cleanup()


@pytest.fixture
async def plugin(ovs: PrivateOvs) -> AsyncIterator[OpenFlowPlugin]:
    plugin = OpenFlowPlugin(host=ovs.controller_ip, port=0, connect_timeout=15.0)
    await plugin.start()
    ovs.set_controller(plugin.port)
    try:
        yield plugin
    finally:
        await plugin.stop()


def s1() -> Device:
    return Device(id=device_id("s1"), name="s1", attributes={"datapath_id": DPID})


@pytest.fixture
async def driver(plugin: OpenFlowPlugin) -> AsyncIterator[OpenFlowDriver]:
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
    def conformance_driver(self, plugin: OpenFlowPlugin) -> OpenFlowDriver:
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
    def toggle_port(self, ovs: PrivateOvs) -> TogglePort:
        async def toggle(name: str, status: OperStatus) -> None:
            ovs.set_link(int(name.removeprefix("s1-eth")), status == OperStatus.UP)

        return toggle


async def test_applied_flows_are_in_the_switch_table(
    driver: OpenFlowDriver, ovs: PrivateOvs
) -> None:
    rules = [forward(1, 2), forward(2, 1)]
    assert all(r.ok for r in await driver.apply(rules))
    dump = ovs.ofctl("--no-names", "--no-stats", "dump-flows", "br0")
    assert "priority=10,in_port=1 actions=output:2" in dump
    assert "priority=10,in_port=2 actions=output:1" in dump
    assert dump.count("cookie=0x4e57") == 2
    assert all(r.ok for r in await driver.delete(rules))
    assert "cookie=0x4e57" not in ovs.ofctl("dump-flows", "br0")


async def test_a_rule_the_switch_refuses_fails_with_its_error(
    driver: OpenFlowDriver, ovs: PrivateOvs
) -> None:
    results = await driver.apply([forward(1, 2), config_rule(BAD_PREREQ)])
    assert results[1].error == "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ"
    assert results[0].error is not None and "batch aborted" in results[0].error
    assert "cookie=0x4e57" not in ovs.ofctl("dump-flows", "br0")


async def test_packets_in_and_out(driver: OpenFlowDriver, ovs: PrivateOvs) -> None:
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
    ovs.inject(2, frame)
    await until(lambda: any(isinstance(e, PacketIn) and e.data == frame for e in events))
    sent = {p.port: p.tx_packets for p in await driver.port_stats()}
    await driver.send_packet(1, frame)

    async with asyncio.timeout(10):
        while True:
            if {p.port: p.tx_packets for p in await driver.port_stats()}[1] > sent[1]:
                return
            await asyncio.sleep(0.1)


async def test_a_restarted_switch_reconnects(driver: OpenFlowDriver, ovs: PrivateOvs) -> None:
    events: list[DriverEvent] = []
    driver.subscribe(events.append)
    assert all(r.ok for r in await driver.apply([forward(1, 2)]))
    ovs.stop_vswitchd()
    down = DeviceStatusChanged(device_id=driver.device.id, status=OperStatus.DOWN)
    await until(lambda: down in events)
    ovs.start_vswitchd()
    up = DeviceStatusChanged(device_id=driver.device.id, status=OperStatus.UP)
    await until(lambda: up in events, within_s=20)
    rule = forward(2, 1)
    assert all(r.ok for r in await driver.apply([rule]))
    assert rule.key in (await driver.get_state()).rules
