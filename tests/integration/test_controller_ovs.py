"""The controller on real Open vSwitch: discovery of links and hosts, link state within a
second, shortest-path forwarding (ping), and resync after reconnect and switch restart."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.drivers.openflow import OpenFlowPlugin
from netweave.drivers.openflow.rules import cookie_for
from netweave.inventory import Inventory, load_descriptor
from netweave.lab import Lab
from netweave.lab import ovs as lab_ovs
from netweave.lab.shell import run
from netweave.model import DeviceType, TopologyDescriptor
from netweave.model.ids import device_id
from netweave.store import Store
from netweave.testing import eventually, lab_under

EXAMPLES = Path(__file__).parents[2] / "examples"
LabFactory = Callable[..., Lab]
Pair = frozenset[tuple[str, str]]


def load_example(name: str) -> TopologyDescriptor:
    path = EXAMPLES / name
    return load_descriptor(path.read_text(), str(path))[0]


@dataclass
class Setup:
    store: Store
    controller: Controller
    lab: Lab
    descriptor: TopologyDescriptor

    def links(self) -> set[Pair]:
        """Stored links as pairs of (device name, port name)."""
        with self.store.read() as repo:
            names = {d.id: d.name for d in repo.devices.list()}
            ports = {e.id: e.name for e in repo.endpoints.list()}
            return {
                frozenset(
                    (names[end.device_id], ports[end.endpoint_id]) for end in (link.a, link.b)
                )
                for link in repo.links.list()
            }

    def wanted(self, *, hosts: bool) -> set[Pair]:
        kinds = {d.name: d.type for d in self.descriptor.devices}
        return {
            frozenset({(k.a.device, k.a.port), (k.b.device, k.b.port)})
            for k in self.descriptor.links
            if hosts or DeviceType.HOST not in (kinds[k.a.device], kinds[k.b.device])
        }


async def start(lab_factory: LabFactory, store: Store, source: str) -> AsyncIterator[Setup]:
    descriptor = load_example(source)
    settings = ControllerSettings(openflow_port=0, forwarding=True, discovery_interval_s=0.2)
    controller = Controller(store, settings)
    # Inventory knows the devices and ports; links are left for discovery to find.
    Inventory(store, InProcessBus()).import_topology(descriptor.model_copy(update={"links": []}))
    async with lab_under(controller, descriptor, lab_factory) as lab:
        yield Setup(store, controller, lab, descriptor)


@pytest.fixture(params=["linear.yaml", "ring.yaml", "leaf-spine.yaml"])
async def setup(
    request: pytest.FixtureRequest, lab_factory: LabFactory, tmp_path: Path
) -> AsyncIterator[Setup]:
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    async for running in start(lab_factory, store, request.param):
        yield running
    store.close()


@pytest.fixture
async def linear(lab_factory: LabFactory, tmp_path: Path) -> AsyncIterator[Setup]:
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    async for running in start(lab_factory, store, "linear.yaml"):
        yield running
    store.close()


def hosts(setup: Setup) -> list[str]:
    return [d.name for d in setup.descriptor.devices if d.type == DeviceType.HOST]


def host_ip(setup: Setup, name: str) -> str:
    spec = next(d for d in setup.descriptor.devices if d.name == name)
    assert spec.ip is not None
    return spec.ip.split("/")[0]


async def ping(setup: Setup, src: str, dst: str) -> subprocess.CompletedProcess[str]:
    argv = ["ping", "-c", "3", "-i", "0.2", "-W", "2", host_ip(setup, dst)]
    return await asyncio.to_thread(setup.lab.exec, src, argv)


async def test_discovered_topology_matches_the_descriptor_and_hosts_ping(setup: Setup) -> None:
    await eventually(lambda: setup.links() == setup.wanted(hosts=False), within=20)
    names = hosts(setup)
    for src, dst in zip(names, names[1:] + names[:1], strict=True):
        result = await ping(setup, src, dst)
        assert " 0% packet loss" in result.stdout, result.stdout + result.stderr
    await eventually(lambda: setup.links() == setup.wanted(hosts=True), within=10)
    with setup.store.read() as repo:  # the descriptor's hosts were found by MAC, not added
        assert sorted(d.name for d in repo.devices.list() if d.type == DeviceType.HOST) == sorted(
            names
        )


async def test_port_down_removes_the_link_within_a_second(linear: Setup) -> None:
    await eventually(lambda: linear.links() == linear.wanted(hosts=False), within=20)
    link = next(p for p in linear.lab.plan.links if {p.a.device, p.b.device} == {"s1", "s2"})
    pair = frozenset({(link.a.device, link.a.port), (link.b.device, link.b.port)})
    # Open vSwitch turns a port it manages back up after `ip link set down`, so the port
    # is taken down the OpenFlow way (as an operator or a controller would).
    started = time.monotonic()
    linear.lab.ofctl(link.a.device, "mod-port", str(link.a.ofport), "down")
    await eventually(lambda: pair not in linear.links(), within=1.0)
    removed_after = time.monotonic() - started
    linear.lab.ofctl(link.a.device, "mod-port", str(link.a.ofport), "up")
    await eventually(lambda: pair in linear.links(), within=3.0)
    print(f"link removed {removed_after * 1000:.0f} ms after the port went down")


def our_cookies(lab: Lab, switch: str) -> set[int]:
    flows = lab.ofctl(switch, "dump-flows")
    return {
        int(c, 16) for c in re.findall(r"cookie=0x([0-9a-f]+)", flows) if int(c, 16) >> 48 == 0x4E57
    }


def desired_cookies(store: Store, switch: str) -> set[int]:
    with store.read() as repo:
        return {cookie_for(r.key) for r in repo.rules.list(device_id=device_id(switch))}


async def test_reconnect_and_restart_resync_the_flow_tables(linear: Setup) -> None:
    await eventually(lambda: linear.links() == linear.wanted(hosts=False), within=20)
    assert " 0% packet loss" in (await ping(linear, "h1", "h3")).stdout
    for switch in ("s1", "s2", "s3"):
        await eventually(
            lambda s=switch: our_cookies(linear.lab, s) == desired_cookies(linear.store, s)
        )
    # Behind the controller's back: one of our flows lost, one stale netweave flow added.
    bridge = linear.lab.bridge("s2")
    linear.lab.ofctl("s2", "del-flows", "--strict", "priority=65000,dl_type=0x88cc")
    linear.lab.ofctl("s2", "add-flow", "cookie=0x4e57000000000001,priority=5,ip,actions=drop")
    target = linear.lab.vsctl("get-controller", bridge).strip()
    linear.lab.vsctl("del-controller", bridge)
    linear.lab.vsctl("set-controller", bridge, target)
    await eventually(
        lambda: our_cookies(linear.lab, "s2") == desired_cookies(linear.store, "s2"), within=10
    )
    # A restarted switch process comes back empty and is refilled.
    lab_ovs.stop(linear.lab.paths, lab_ovs.VSWITCHD)
    run(
        lab_ovs.start_vswitchd(linear.lab.paths, linear.lab.options.datapath),
        env=linear.lab.paths.env(),
    )
    for switch in ("s1", "s2", "s3"):
        await eventually(
            lambda s=switch: our_cookies(linear.lab, s) == desired_cookies(linear.store, s),
            within=15,
        )
    assert " 0% packet loss" in (await ping(linear, "h1", "h3")).stdout


async def test_controller_restart_resumes_from_the_store(linear: Setup) -> None:
    await eventually(lambda: linear.links() == linear.wanted(hosts=False), within=20)
    assert " 0% packet loss" in (await ping(linear, "h1", "h3")).stdout
    plugin = linear.controller.plugins["openflow"]
    assert isinstance(plugin, OpenFlowPlugin)
    port = plugin.port
    await linear.controller.stop()
    # While no controller runs, a switch loses one of our flows and gains a stale one.
    linear.lab.ofctl("s1", "del-flows", "--strict", "priority=65000,dl_type=0x88cc")
    linear.lab.ofctl("s1", "add-flow", "cookie=0x4e57000000000002,priority=6,ip,actions=drop")
    settings = ControllerSettings(openflow_port=port, forwarding=True, discovery_interval_s=0.2)
    restarted = Controller(linear.store, settings)
    await restarted.start()
    try:
        for switch in ("s1", "s2", "s3"):
            await eventually(
                lambda s=switch: our_cookies(linear.lab, s) == desired_cookies(linear.store, s),
                within=15,
            )
        assert " 0% packet loss" in (await ping(linear, "h1", "h3")).stdout
    finally:
        await restarted.stop()
