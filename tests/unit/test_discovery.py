"""Link and host discovery, and default forwarding, over the emulated network's packet I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from netweave.controller import Backoff, DeviceManager
from netweave.controller import packets as pk
from netweave.controller.discovery import Discovery
from netweave.controller.forwarding import OWNER, Forwarding
from netweave.controller.openflow_rules import OpenFlowControlRules
from netweave.drivers import PacketIn
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.model import Device, DeviceType, LinkOrigin, OperStatus, RuleAction
from netweave.model.ids import device_id, endpoint_id
from netweave.store import Store
from netweave.testing import eventually

H1, H2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


@dataclass
class Lab:
    store: Store
    network: EmulatedNetwork
    manager: DeviceManager
    discovery: Discovery

    def links(self) -> set[str]:
        with self.store.read() as repo:
            return {link.name for link in repo.links.list()}


@pytest.fixture
async def lab(store: Store) -> AsyncIterator[Lab]:
    """s1 - s2 - s3 in a line; port 3 of s1 and s3 are edge ports (h2 sits on s3:p3)."""
    network = EmulatedNetwork()
    for name in ("s1", "s2", "s3"):
        network.add_device(name, ["p1", "p2", "p3"])
    network.add_device("h2", ["eth0"])
    network.add_link(("s1", "p1"), ("s2", "p1"))
    network.add_link(("s2", "p2"), ("s3", "p1"))
    network.add_link(("s3", "p3"), ("h2", "eth0"))
    with store.transaction() as repo:
        for name in ("s1", "s2", "s3"):
            repo.devices.add(Device(id=device_id(name), name=name, drivers=["emulated"]))
    plugin = EmulatedPlugin(network)
    manager = DeviceManager(store, {"emulated": plugin}, backoff=Backoff(0.01))
    rules = OpenFlowControlRules("discovery")
    discovery = Discovery(store, manager, punt_rule=rules.lldp, interval=0.02, timeout=0.5)
    await manager.start()
    await discovery.start()
    try:
        yield Lab(store, network, manager, discovery)
    finally:
        await discovery.stop()
        await manager.stop()


def _arp_from(mac: str, ip: str) -> bytes:
    arp = pk.Arp(1, mac, ip, "00:00:00:00:00:00", "10.0.0.254")
    return pk.ethernet(pk.BROADCAST, mac, pk.ETH_ARP, pk.build_arp(arp))


SWITCH_LINKS = {"s1:p1--s2:p1", "s2:p2--s3:p1"}


def _canonical(lab: Lab) -> set[str]:
    """Discovered link names with their ends sorted by name (ids order them in the store)."""
    return {"--".join(sorted(name.split("--"))) for name in lab.links()}


async def test_links_are_discovered_and_follow_port_state(lab: Lab) -> None:
    await eventually(lambda: _canonical(lab) == SWITCH_LINKS)
    with lab.store.read() as repo:
        assert {link.origin for link in repo.links.list()} == {LinkOrigin.DISCOVERED}
        lldp_rules = repo.rules.list(owner="discovery")
    assert len(lldp_rules) == 3
    lab.network.set_port_status("s2", "p2", OperStatus.DOWN)
    await eventually(lambda: _canonical(lab) == {"s1:p1--s2:p1"})
    lab.network.set_port_status("s2", "p2", OperStatus.UP)
    await eventually(lambda: _canonical(lab) == SWITCH_LINKS)


async def test_silent_link_expires(lab: Lab) -> None:
    await eventually(lambda: _canonical(lab) == SWITCH_LINKS)
    lab.network.set_reachable("s3", False)  # its probes stop arriving; ports stay "up"
    await eventually(lambda: _canonical(lab) == {"s1:p1--s2:p1"})


async def test_hosts_are_learned_and_moves_followed(lab: Lab) -> None:
    await eventually(lambda: _canonical(lab) == SWITCH_LINKS)
    lab.discovery.handle_packet(
        PacketIn(device_id=device_id("s1"), in_port=3, data=_arp_from(H1, "10.0.0.1"))
    )
    host = device_id("host-" + H1.replace(":", ""))
    with lab.store.read() as repo:
        assert repo.devices.get(host).type == DeviceType.HOST
        port = repo.endpoints.get(endpoint_id("host-" + H1.replace(":", ""), "eth0"))
    assert (port.mac, port.ip) == (H1, "10.0.0.1/32")
    assert any("s1:p3" in name for name in lab.links())
    lab.discovery.handle_packet(
        PacketIn(device_id=device_id("s3"), in_port=3, data=_arp_from(H1, "10.0.0.1"))
    )
    assert not any("s1:p3" in name for name in lab.links())
    assert any("s3:p3" in name for name in lab.links())


async def test_packets_from_inter_switch_ports_do_not_create_hosts(lab: Lab) -> None:
    await eventually(lambda: _canonical(lab) == SWITCH_LINKS)
    lab.discovery.handle_packet(
        PacketIn(device_id=device_id("s2"), in_port=1, data=_arp_from(H1, "10.0.0.1"))
    )
    with lab.store.read() as repo:
        assert all(d.type != DeviceType.HOST for d in repo.devices.list())


async def test_forwarding_installs_shortest_path_rules_and_floods_edges(lab: Lab) -> None:
    forwarding = Forwarding(lab.store, lab.manager, lab.discovery, OpenFlowControlRules(OWNER))
    h2_frames: list[bytes] = []
    h2 = EmulatedPlugin(lab.network).create(Device(id="h2", name="h2", type=DeviceType.HOST))
    await h2.connect()
    h2.subscribe(
        lambda event: h2_frames.append(event.data) if isinstance(event, PacketIn) else None
    )
    await forwarding.start()
    try:
        await eventually(lambda: _canonical(lab) == SWITCH_LINKS)
        arp = _arp_from(H1, "10.0.0.1")
        packet = PacketIn(device_id=device_id("s1"), in_port=3, data=arp)
        lab.discovery.handle_packet(packet)
        forwarding.handle_packet(packet)  # broadcast: flooded out of edge ports only
        await eventually(lambda: arp in h2_frames)
        lab.discovery.handle_packet(
            PacketIn(device_id=device_id("s3"), in_port=3, data=_arp_from(H2, "10.0.0.2"))
        )

        def towards(device: str, mac: str) -> int | None:
            for value in lab.network.rules(device).values():
                if value.get("match", {}).get("eth_dst") == mac:
                    return int(value["actions"][0]["port"])
            return None

        await eventually(lambda: towards("s2", H1) == 1 and towards("s2", H2) == 2)
        assert (towards("s1", H1), towards("s1", H2)) == (3, 1)
        assert (towards("s3", H1), towards("s3", H2)) == (1, 3)
        lab.network.set_port_status("s2", "p2", OperStatus.DOWN)  # s3 cut off
        await eventually(lambda: towards("s1", H2) is None)
        with lab.store.read() as repo:
            assert all(r.action == RuleAction.SET for r in repo.rules.list(owner=OWNER))
    finally:
        await forwarding.stop()
        await h2.disconnect()


async def test_forwarding_leaves_the_controllers_own_probes_alone(lab: Lab) -> None:
    forwarding = Forwarding(lab.store, lab.manager, lab.discovery, OpenFlowControlRules(OWNER))
    h2_frames: list[bytes] = []
    h2 = EmulatedPlugin(lab.network).create(Device(id="h2", name="h2", type=DeviceType.HOST))
    await h2.connect()
    h2.subscribe(
        lambda event: h2_frames.append(event.data) if isinstance(event, PacketIn) else None
    )
    try:
        await eventually(lambda: _canonical(lab) == SWITCH_LINKS)
        probe = pk.ethernet(pk.BROADCAST, H1, pk.ETH_PROBE, bytes(46))
        arp = _arp_from(H1, "10.0.0.1")
        for frame in (probe, arp):
            forwarding.handle_packet(PacketIn(device_id=device_id("s1"), in_port=3, data=frame))
        await eventually(lambda: arp in h2_frames)
        assert probe not in h2_frames
    finally:
        await h2.disconnect()
