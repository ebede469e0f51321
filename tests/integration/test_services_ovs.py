"""Point-to-point services on real Open vSwitch, without default forwarding: packets flow
between the service's hosts only, stop on delete, are held to the bandwidth, and find a
new path when a link of theirs goes down."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.drivers.openflow import OpenFlowPlugin
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate
from netweave.lab import Lab, LabOptions
from netweave.model import ServiceStatus, TopologyDescriptor
from netweave.model.ids import device_id, service_id
from netweave.services import SERVICE_PRIORITY, connection_id, owner_of
from netweave.store import Store
from netweave.testing import eventually, lab_under

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "examples"
LabFactory = Callable[..., Lab]
SWITCHES = ("s1", "s2", "s3", "s4", "s5")


@dataclass
class Ring:
    store: Store
    inventory: Inventory
    controller: Controller
    lab: Lab
    descriptor: TopologyDescriptor

    def create(self, name: str, a: str, b: str, **constraints: object) -> None:
        refs = [{"device": host, "endpoint": "eth0"} for host in (a, b)]
        spec = {"name": name, "endpoints": refs, "constraints": constraints}
        self.inventory.create_service(ServiceCreate.model_validate(spec))

    def status(self, name: str) -> ServiceStatus | None:
        with self.store.read() as repo:
            found = repo.services.find(service_id(name))
        return found.status if found else None

    async def active(self, name: str) -> None:
        await eventually(lambda: self.status(name) is ServiceStatus.ACTIVE, within=20)

    async def ping(self, src: str, dst: str, count: int = 3) -> bool:
        ip = next(d.ip for d in self.descriptor.devices if d.name == dst)
        assert ip is not None
        argv = ["ping", "-c", str(count), "-i", "0.2", "-W", "1", ip.split("/")[0]]
        result = await asyncio.to_thread(self.lab.exec, src, argv)
        return result.returncode == 0

    def service_flows(self) -> dict[str, int]:
        """How many service flows each switch holds."""
        return {
            s: self.lab.ofctl(s, "dump-flows").count(f"priority={SERVICE_PRIORITY}")
            for s in SWITCHES
        }


@pytest.fixture
async def ring(lab_factory: LabFactory, tmp_path: Path) -> AsyncIterator[Ring]:
    path = EXAMPLES / "ring.yaml"
    descriptor = load_descriptor(path.read_text(), str(path))[0]
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    settings = ControllerSettings(openflow_port=0, forwarding=False, discovery_interval_s=0.2)
    controller = Controller(store, settings)
    try:
        async with lab_under(controller, descriptor, lab_factory) as lab:
            yield Ring(store, inventory, controller, lab, descriptor)
    finally:
        store.close()


async def test_only_the_service_hosts_talk_and_delete_stops_them(ring: Ring) -> None:
    assert not await ring.ping("h1", "h2", count=1)  # no forwarding: nothing flows yet
    ring.create("h1-h2", "h1", "h2")
    await ring.active("h1-h2")
    assert await ring.ping("h1", "h2")
    assert not await ring.ping("h1", "h3", count=2)
    assert not await ring.ping("h3", "h2", count=2)
    ring.inventory.delete_service("h1-h2")
    await eventually(lambda: ring.status("h1-h2") is None, within=10)
    assert ring.service_flows() == dict.fromkeys(SWITCHES, 0)
    assert not await ring.ping("h1", "h2", count=2)


async def pings_lost_while_s1_s2_goes_down(ring: Ring) -> int:
    """h1 pings h2 every 10 ms, 300 times; 1 s in, s1's port towards s2 goes down (the
    first link of the shortest path h1 - s1 - s2 - s3 - h2). Returns the pings lost."""
    argv = ["ping", "-c", "300", "-i", "0.01", "-W", "1", "10.0.0.2"]
    pinging = asyncio.ensure_future(asyncio.to_thread(ring.lab.exec, "h1", argv, timeout=30))
    await asyncio.sleep(1.0)
    link = next(p for p in ring.lab.plan.links if {p.a.device, p.b.device} == {"s1", "s2"})
    end = link.a if link.a.device == "s1" else link.b
    ring.lab.ofctl("s1", "mod-port", str(end.ofport), "down")
    result = await pinging
    counts = re.findall(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    sent, received = map(int, counts[0])
    return sent - received


async def test_link_down_on_the_path_reroutes_the_service(ring: Ring) -> None:
    ring.create("h1-h2", "h1", "h2")
    await ring.active("h1-h2")
    assert await ring.ping("h1", "h2")
    with ring.store.read() as repo:
        before = repo.connections.get(connection_id(service_id("h1-h2")))
    lost = await pings_lost_while_s1_s2_goes_down(ring)
    print(f"unprotected, rerouted by the controller: {lost} of 300 pings lost (10 ms apart)")
    with ring.store.read() as repo:
        after = repo.connections.get(connection_id(service_id("h1-h2")))
    assert after.link_ids != before.link_ids
    assert ring.status("h1-h2") is ServiceStatus.ACTIVE
    assert lost < 100
    assert await ring.ping("h1", "h2")
    assert ring.service_flows()["s2"] == 0


async def test_metered_service_is_held_to_its_bandwidth(ring: Ring) -> None:
    limit = 20_000_000
    ring.create("h1-h3", "h1", "h3", bandwidth_bps=limit)
    await ring.active("h1-h3")
    server = ring.lab.exec("h3", ["iperf3", "-s", "-D", "-1"])
    assert server.returncode == 0, server.stderr
    await asyncio.sleep(0.3)
    client: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        ring.lab.exec, "h1", ["iperf3", "-c", "10.0.0.3", "-t", "3", "-J"], timeout=30
    )
    assert client.returncode == 0, client.stdout[-500:]
    received = json.loads(client.stdout)["end"]["sum_received"]["bits_per_second"]
    print(f"metered at {limit / 1e6:.0f} Mbit/s: iperf3 TCP {received / 1e6:.1f} Mbit/s")
    assert 0.3 * limit < received <= 1.1 * limit


async def test_protected_service_fails_over_in_the_switch(ring: Ring) -> None:
    ring.create("h1-h2", "h1", "h2", protection="fast-reroute")
    await ring.active("h1-h2")
    assert await ring.ping("h1", "h2")
    assert ring.controller.services is not None
    await ring.controller.services.stop()  # no reroute: the switch alone must switch over
    lost = await pings_lost_while_s1_s2_goes_down(ring)
    print(f"protected, fast failover in s1: {lost} of 300 pings lost (10 ms apart)")
    assert lost <= 5


async def test_a_restarted_controller_finishes_provisioning(ring: Ring) -> None:
    plugin = ring.controller.plugins["openflow"]
    assert isinstance(plugin, OpenFlowPlugin)
    port = plugin.port
    ring.create("h1-h2", "h1", "h2", bandwidth_bps=10_000_000)
    await ring.controller.stop()  # at once: the rules are stored, few if any installed
    restarted = Controller(ring.store, ControllerSettings(openflow_port=port, forwarding=False))
    await restarted.start()
    try:
        await ring.active("h1-h2")
        assert await ring.ping("h1", "h2")
        with ring.store.read() as repo:
            rules = repo.rules.list(owner=owner_of(service_id("h1-h2")))
        flows = {
            s: sum(r.device_id == device_id(s) and "/flow/" in r.key for r in rules)
            for s in SWITCHES
        }
        assert ring.service_flows() == flows
    finally:
        await restarted.stop()


# Two L2VPNs with the same addresses: a1/b1 are both 10.0.0.1, a2/b2 both 10.0.0.2.
TWO_LANS = """
name: twolans
devices:
- {name: s1, type: switch, drivers: [openflow], attributes: {datapath_id: '00000000000000a1'},
   ports: [{name: eth1, number: 1}, {name: eth2, number: 2}, {name: eth3, number: 3}]}
- {name: s2, type: switch, drivers: [openflow], attributes: {datapath_id: '00000000000000a2'},
   ports: [{name: eth1, number: 1}, {name: eth2, number: 2}, {name: eth3, number: 3},
           {name: eth4, number: 4}]}
- {name: a1, type: host, ports: [{name: eth0}], ip: 10.0.0.1/24, mac: '00:00:00:00:0a:01'}
- {name: a2, type: host, ports: [{name: eth0}], ip: 10.0.0.2/24, mac: '00:00:00:00:0a:02'}
- {name: a3, type: host, ports: [{name: eth0}], ip: 10.0.0.3/24, mac: '00:00:00:00:0a:03'}
- {name: b1, type: host, ports: [{name: eth0}], ip: 10.0.0.1/24, mac: '00:00:00:00:0b:01'}
- {name: b2, type: host, ports: [{name: eth0}], ip: 10.0.0.2/24, mac: '00:00:00:00:0b:02'}
links:
- {a: {device: s1, port: eth1}, b: {device: s2, port: eth1}, capacity_bps: 1000000000}
- {a: {device: a1, port: eth0}, b: {device: s1, port: eth2}}
- {a: {device: b1, port: eth0}, b: {device: s1, port: eth3}}
- {a: {device: a2, port: eth0}, b: {device: s2, port: eth2}}
- {a: {device: a3, port: eth0}, b: {device: s2, port: eth3}}
- {a: {device: b2, port: eth0}, b: {device: s2, port: eth4}}
"""


async def test_l2vpns_with_the_same_addresses_never_leak(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    descriptor = load_descriptor(TWO_LANS, "twolans.yaml")[0]
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    controller = Controller(store, ControllerSettings(openflow_port=0, forwarding=False))
    await controller.start()
    plugin = controller.plugins["openflow"]
    assert isinstance(plugin, OpenFlowPlugin)
    try:
        options = LabOptions(controller=f"tcp:127.0.0.1:{plugin.port}")
        lab = await asyncio.to_thread(lab_factory, descriptor, options)
        lans = Ring(store, inventory, controller, lab, descriptor)
        for name, hosts in (("lan-a", ("a1", "a2", "a3")), ("lan-b", ("b1", "b2"))):
            ends = [{"device": host, "endpoint": "eth0"} for host in hosts]
            spec = {"name": name, "type": "l2vpn", "endpoints": ends}
            inventory.create_service(ServiceCreate.model_validate(spec))
            await lans.active(name)
        assert await lans.ping("a1", "a2") and await lans.ping("a1", "a3")
        assert await lans.ping("b1", "b2")
        assert not await lans.ping("b1", "a3", count=2)  # 10.0.0.3 is only in lan-a
        for host, peer_mac in (("a1", "00:00:00:00:0a:02"), ("b1", "00:00:00:00:0b:02")):
            neighbours = lab.exec(host, ["ip", "neigh", "show", "10.0.0.2"]).stdout
            assert peer_mac in neighbours, f"{host} reached {neighbours!r}"
    finally:
        await controller.stop()
        store.close()
