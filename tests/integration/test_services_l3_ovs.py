"""An L3VPN on real Open vSwitch, without default forwarding: hosts in three subnets ping
their gateways (answered by the controller) and each other through it, a routed packet's
TTL drops by exactly one (the service is one router), a host outside it reaches none of
them, and delete leaves no service flow and no traffic."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate
from netweave.lab import Lab
from netweave.model import ServiceStatus
from netweave.model.ids import service_id
from netweave.services import SERVICE_PRIORITY
from netweave.services.l3 import gateway_mac
from netweave.store import Store
from netweave.testing import eventually, lab_under

pytestmark = pytest.mark.integration

LabFactory = Callable[..., Lab]
SWITCHES = ("s1", "s2", "s3")
ADDRESSES = {"h1": "10.1.0.1", "h2": "10.2.0.1", "h3": "10.3.0.1", "h4": "10.4.0.1"}
GATEWAYS = {"h1": "10.1.0.254", "h2": "10.2.0.254", "h3": "10.3.0.254", "h4": "10.4.0.254"}

# s1 - s2 - s3 in a line; h1 and h4 on s1, h3 on s2, h2 on s3; one subnet per host.
ROUTED = """
name: routed
devices:
- {name: s1, type: switch, drivers: [openflow], attributes: {datapath_id: '00000000000000c1'},
   ports: [{name: eth1, number: 1}, {name: eth2, number: 2}, {name: eth3, number: 3}]}
- {name: s2, type: switch, drivers: [openflow], attributes: {datapath_id: '00000000000000c2'},
   ports: [{name: eth1, number: 1}, {name: eth2, number: 2}, {name: eth3, number: 3}]}
- {name: s3, type: switch, drivers: [openflow], attributes: {datapath_id: '00000000000000c3'},
   ports: [{name: eth1, number: 1}, {name: eth2, number: 2}]}
- {name: h1, type: host, ports: [{name: eth0}], ip: 10.1.0.1/24, gateway: 10.1.0.254,
   mac: '00:00:00:00:0c:01'}
- {name: h2, type: host, ports: [{name: eth0}], ip: 10.2.0.1/24, gateway: 10.2.0.254,
   mac: '00:00:00:00:0c:02'}
- {name: h3, type: host, ports: [{name: eth0}], ip: 10.3.0.1/24, gateway: 10.3.0.254,
   mac: '00:00:00:00:0c:03'}
- {name: h4, type: host, ports: [{name: eth0}], ip: 10.4.0.1/24, gateway: 10.4.0.254,
   mac: '00:00:00:00:0c:04'}
links:
- {a: {device: s1, port: eth1}, b: {device: s2, port: eth1}}
- {a: {device: s2, port: eth2}, b: {device: s3, port: eth1}}
- {a: {device: h1, port: eth0}, b: {device: s1, port: eth2}}
- {a: {device: h4, port: eth0}, b: {device: s1, port: eth3}}
- {a: {device: h3, port: eth0}, b: {device: s2, port: eth3}}
- {a: {device: h2, port: eth0}, b: {device: s3, port: eth2}}
"""


@dataclass
class Routed:
    store: Store
    inventory: Inventory
    lab: Lab

    def status(self, name: str) -> ServiceStatus | None:
        with self.store.read() as repo:
            found = repo.services.find(service_id(name))
        return found.status if found else None

    async def ping(self, src: str, dst: str, count: int = 3) -> bool:
        return (await self.run_ping(src, ADDRESSES[dst], count)).returncode == 0

    async def run_ping(
        self, src: str, address: str, count: int = 3, ttl: int = 64
    ) -> subprocess.CompletedProcess[str]:
        """``ping`` of `address` from host `src`, its echo requests sent with TTL `ttl`."""
        argv = ["ping", "-c", str(count), "-i", "0.2", "-W", "1", "-t", str(ttl), address]
        return await asyncio.to_thread(self.lab.exec, src, argv)

    def service_flows(self) -> dict[str, int]:
        return {
            s: self.lab.ofctl(s, "dump-flows").count(f"priority={SERVICE_PRIORITY}")
            for s in SWITCHES
        }


@pytest.fixture
async def routed(lab_factory: LabFactory, tmp_path: Path) -> AsyncIterator[Routed]:
    descriptor = load_descriptor(ROUTED, "routed.yaml")[0]
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    settings = ControllerSettings(openflow_port=0, forwarding=False, discovery_interval_s=0.2)
    try:
        async with lab_under(Controller(store, settings), descriptor, lab_factory) as lab:
            yield Routed(store, inventory, lab)
    finally:
        store.close()


async def test_subnets_talk_through_the_l3vpn_and_only_they(routed: Routed) -> None:
    assert not await routed.ping("h1", "h2", count=1)  # no forwarding: nothing flows yet
    refs = [{"device": host, "endpoint": "eth0"} for host in ("h1", "h2", "h3")]
    spec = {"name": "routed", "type": "l3vpn", "endpoints": refs}
    routed.inventory.create_service(ServiceCreate.model_validate(spec))
    await eventually(lambda: routed.status("routed") is ServiceStatus.ACTIVE, within=20)
    for src, dst in (("h1", "h2"), ("h2", "h3"), ("h3", "h1")):
        assert await routed.ping(src, dst), f"{src} -> {dst}"
    neighbour = routed.lab.exec("h1", ["ip", "neigh", "show", "10.1.0.254"]).stdout
    assert gateway_mac(service_id("routed")) in neighbour  # the controller's answer
    for host in ("h1", "h2", "h3"):
        pinged = await routed.run_ping(host, GATEWAYS[host])
        assert pinged.returncode == 0 and "ttl=64" in pinged.stdout, f"{host} -> gateway"
    assert (await routed.run_ping("h4", GATEWAYS["h4"], count=1)).returncode != 0
    # one router, one hop: h2's reply (sent with TTL 64) crosses s3, s2, s1 and arrives
    # with 63; h1's request arrives with TTL 1 if sent with 2, not at all if sent with 1
    assert "ttl=63" in (await routed.run_ping("h1", ADDRESSES["h2"], count=1)).stdout
    assert (await routed.run_ping("h1", ADDRESSES["h2"], count=1, ttl=2)).returncode == 0
    assert (await routed.run_ping("h1", ADDRESSES["h2"], count=1, ttl=1)).returncode != 0
    for dst in ("h1", "h2", "h3"):
        assert not await routed.ping("h4", dst, count=2), f"h4 (outside) -> {dst}"
    routed.inventory.delete_service("routed")
    await eventually(lambda: routed.status("routed") is None, within=10)
    assert routed.service_flows() == dict.fromkeys(SWITCHES, 0)
    assert not await routed.ping("h1", "h2", count=2)
