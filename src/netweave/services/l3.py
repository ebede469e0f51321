"""A routed (L3VPN) service among hosts in different IPv4 subnets.

Each endpoint is a host port with an address (its subnet), a MAC and a gateway (the
host device's ``gateway`` attribute, from the descriptor). The service plays the router:
its gateway addresses all answer to one MAC derived from the service id (the controller
replies to the ARP requests and pings for them that the service's punt rules send it,
see `netweave.controller.gateway`), and packets for another endpoint's subnet are routed
to that host.

The connections are an L2VPN's branches and tree (see `netweave.services.l2vpn`), with
one VLAN. On the switch of the sending host, an IPv4 packet from its edge port to the
subnet of endpoint j gets its TTL decremented (once: the service is one router), the
gateway MAC as source and host j's MAC as destination, then is tagged and sent along the
tree towards j (untagged when j is on that switch); every other switch forwards it by
(in port, VLAN, destination subnet) towards j, the last one untagged to j's port.
Flows match their in port, so services never share a flow.

With a bandwidth, the routed flows from each site's edge port go through the site's
meter (as an L2VPN's flooding flows do); the punts do not, so that a site sending at
its rate still reaches its gateway.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netweave.drivers.openflow.rules import (
    Action,
    DecNwTtl,
    FlowRule,
    Match,
    MeterRule,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    config_rule,
)
from netweave.model import ConfigRule, Connection, DeviceType, Service
from netweave.services.base import SERVICE_PRIORITY
from netweave.services.errors import Infeasible
from netweave.services.l2vpn import Edge, edge_ports, site_meters
from netweave.services.snapshot import Snapshot

GATEWAY_ATTRIBUTE = "gateway"
"""The host device attribute holding its gateway address (as the inventory stores it)."""
ETH_IPV4, ETH_ARP, ARP_REQUEST = 0x0800, 0x0806, 1
IP_PROTO_ICMP, ICMP_ECHO_REQUEST = 1, 8


Tree = dict[str, tuple[str, int, int]]
"""Each switch of the tree but the root: (its parent, the parent's port down to it, its
own port up to the parent)."""


@dataclass(frozen=True)
class Site:
    """What the service routes to one endpoint's host."""

    subnet: ipaddress.IPv4Network
    mac: str
    gateway: str


def gateway_mac(service_id: str) -> str:
    """The MAC of a service's gateways: locally administered, from the service id."""
    digest = hashlib.blake2b(service_id.encode(), digest_size=5).digest()
    return ":".join(f"{byte:02x}" for byte in b"\x02" + digest)


def sites(snap: Snapshot, service: Service) -> list[Site]:
    """The site of each endpoint, in order; `Infeasible` names the endpoint at fault
    (not a host port, no IPv4 address, MAC or gateway, a subnet overlapping another)."""
    found: list[Site] = []
    for index, ref in enumerate(service.endpoints):
        site = _site(snap, ref.endpoint_id, index)
        for other, known in enumerate(found):
            if site.subnet.overlaps(known.subnet):
                raise Infeasible(
                    ("endpoints", index),
                    f"subnet {site.subnet} overlaps {known.subnet} of endpoints[{other}]",
                )
        found.append(site)
    return found


def _site(snap: Snapshot, endpoint_id: str, index: int) -> Site:
    loc = ("endpoints", index)
    endpoint = snap.endpoint(endpoint_id)
    device = snap.devices.get(endpoint.device_id) if endpoint is not None else None
    if endpoint is None or device is None:
        raise Infeasible(loc, f"unknown endpoint {endpoint_id!r}")
    where = f"{device.name}:{endpoint.name}"
    if device.type is not DeviceType.HOST:
        raise Infeasible(loc, f"{where} is not a host port (l3vpn routes between hosts)")
    if endpoint.ip is None:
        raise Infeasible(loc, f"host port {where} has no ip address")
    if endpoint.mac is None:
        raise Infeasible(loc, f"host port {where} has no mac address")
    try:
        interface = ipaddress.ip_interface(endpoint.ip)
    except ValueError:
        raise Infeasible(loc, f"host port {where}: ip {endpoint.ip!r} is not an address") from None
    if not isinstance(interface, ipaddress.IPv4Interface):
        raise Infeasible(loc, f"host port {where}: ip {endpoint.ip} is not IPv4")
    gateway = device.attributes.get(GATEWAY_ATTRIBUTE)
    if gateway is None:
        raise Infeasible(loc, f"host {device.name} has no gateway")
    try:
        address = ipaddress.IPv4Address(gateway)
    except ValueError:
        raise Infeasible(loc, f"host {device.name}: gateway {gateway!r} is not IPv4") from None
    if address not in interface.network:
        raise Infeasible(loc, f"host {device.name}: gateway {gateway} is outside {endpoint.ip}")
    if address == interface.ip:
        raise Infeasible(loc, f"host {device.name}: gateway {gateway} is the host's own address")
    return Site(interface.network, endpoint.mac, str(address))


def l3vpn_rules(
    owner: str,
    branches: Sequence[Connection],
    ports: Mapping[str, int],
    sites: Sequence[Site],
    mac: str,
    bandwidth_bps: int | None = None,
) -> list[ConfigRule]:
    """The punt (gateway ARP and ping) and routing rules over the tree of `branches` (in
    order, sharing one VLAN) for `sites` (one per endpoint, in order); `mac` is the
    gateways' MAC and `ports` numbers every endpoint of the hops; each site is metered
    at `bandwidth_bps` if given."""
    vlan = branches[0].vlan_id
    if vlan is None:
        raise ValueError(f"connection {branches[0].id} has no VLAN")
    edges = edge_ports(branches, ports)
    meters = site_meters(edges, vlan, bandwidth_bps)
    metered = {edge: meters.get(edge) for edge in edges}
    up = _tree(branches, ports)
    trunks: dict[str, set[int]] = {}
    for device, (parent, down, own) in up.items():
        trunks.setdefault(device, set()).add(own)
        trunks.setdefault(parent, set()).add(down)
    rules = [config_rule(owner, device, meter) for (device, _), meter in meters.items()]
    for (device, port), site in zip(edges, sites, strict=True):
        for punt in _punts(port, site.gateway):
            rules.append(config_rule(owner, device, _flow(punt, [Output(port="controller")])))
    for edge, site in zip(edges, sites, strict=True):
        for device, flow in _routes_to(edge, site, metered, up, trunks, vlan, mac):
            rules.append(config_rule(owner, device, flow))
    return rules


def _punts(port: int, gateway: str) -> list[Match]:
    """The requests for `gateway` from `port` that the controller answers: ARP and ping."""
    arp = Match(in_port=port, eth_type=ETH_ARP, arp_op=ARP_REQUEST, arp_tpa=gateway)
    ping = Match(
        in_port=port,
        eth_type=ETH_IPV4,
        ip_proto=IP_PROTO_ICMP,
        ipv4_dst=gateway,
        icmpv4_type=ICMP_ECHO_REQUEST,
    )
    return [arp, ping]


def _routes_to(
    edge: Edge,
    site: Site,
    edges: Mapping[Edge, MeterRule | None],
    up: Tree,
    trunks: dict[str, set[int]],
    vlan: int,
    mac: str,
) -> list[tuple[str, FlowRule]]:
    """The flows routing packets for `site`'s subnet to its host at `edge`, from the
    other `edges` (through their meters) and along the tree."""
    last, port = edge
    subnet = str(site.subnet)
    rewrite: list[Action] = [
        DecNwTtl(),
        SetField(field="eth_src", value=mac),
        SetField(field="eth_dst", value=site.mac),
    ]
    tag: list[Action] = [PushVlan(), SetField(field="vlan_vid", value=vlan)]
    flows = []
    toward = _toward(up, last, port)
    for device in sorted(toward):
        out, here = toward[device], device == last
        for local in sorted(p for d, p in edges if d == device and (d, p) != edge):
            match = Match(in_port=local, eth_type=ETH_IPV4, ipv4_dst=subnet)
            actions = [*rewrite, *([] if here else tag), Output(port=out)]
            flows.append((device, _flow(match, actions, edges[device, local])))
        untag: list[Action] = [PopVlan()] if here else []
        for trunk in sorted(trunks.get(device, set()) - {out}):
            match = Match(in_port=trunk, vlan_vid=vlan, eth_type=ETH_IPV4, ipv4_dst=subnet)
            flows.append((device, _flow(match, [*untag, Output(port=out)])))
    return flows


def _flow(match: Match, actions: list[Action], meter: MeterRule | None = None) -> FlowRule:
    meter_id = meter.meter_id if meter else None
    return FlowRule(priority=SERVICE_PRIORITY, match=match, actions=actions, meter_id=meter_id)


def _tree(branches: Sequence[Connection], ports: Mapping[str, int]) -> Tree:
    """The union of the branches, each cut at the last switch already in the tree."""
    up: Tree = {}
    tree = {branches[0].hops[0].device_id}
    for branch in branches:
        hops = branch.hops
        attach = max(i for i, hop in enumerate(hops) if hop.device_id in tree)
        for here, there in zip(hops[attach:], hops[attach + 1 :], strict=False):
            up[there.device_id] = (
                here.device_id,
                ports[here.egress_endpoint_id],
                ports[there.ingress_endpoint_id],
            )
            tree.add(there.device_id)
    return up


def _toward(up: Tree, last: str, port: int) -> dict[str, int]:
    """The port out of which every switch of the tree sends towards `port` of `last`:
    down the chain from the root to `last`, up everywhere else."""
    toward = {device: own for device, (_, _, own) in up.items()}
    toward[last] = port
    child = last
    while child in up:
        parent, down, _ = up[child]
        toward[parent] = down
        child = parent
    return toward
