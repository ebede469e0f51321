"""OpenFlow rules of a multipoint L2VPN (E-LAN) service over its tree of branches.

A service's connections are its branches: from the first endpoint's edge switch (the
root) to each other endpoint, in order. Their union, each branch cut at the last switch
already in the tree, is a tree (no switch is reached twice, so no loop). Every switch
of the tree floods what enters the service to all of its other service ports: frames
from an edge port go out of the other edge ports as they are and out of the tree ports
tagged with the service's VLAN; tagged frames from a tree port go out of the other tree
ports and, untagged, out of the edge ports. Flows match their in port (tree ports with
the VLAN too), so services never share a flow; their frames never meet.

With a bandwidth, each endpoint (site) may send that much into the service: the flow
taking frames from its edge port goes through a meter of the site's own (`site_meters`),
not one shared by the edge ports of a switch, so that sites on one switch keep a rate
each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netweave.drivers.openflow.rules import (
    Action,
    FlowRule,
    Match,
    MeterRule,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    config_rule,
)
from netweave.model import ConfigRule, Connection
from netweave.services.base import SERVICE_PRIORITY
from netweave.services.p2p import meter_rule, site_meter_id

Edge = tuple[str, int]
"""A switch and the number of its port towards one endpoint."""


def l2vpn_rules(
    owner: str,
    branches: Sequence[Connection],
    ports: Mapping[str, int],
    bandwidth_bps: int | None = None,
) -> list[ConfigRule]:
    """The flooding rules over the tree of `branches` (in order; they share one VLAN),
    each site metered at `bandwidth_bps` if given; `ports` numbers every endpoint of
    their hops."""
    vlan = branches[0].vlan_id
    if vlan is None:
        raise ValueError(f"connection {branches[0].id} has no VLAN")
    sites = edge_ports(branches, ports)
    meters = site_meters(sites, vlan, bandwidth_bps)
    edges: dict[str, set[int]] = {}
    for device, port in sites:
        edges.setdefault(device, set()).add(port)
    trunks: dict[str, set[int]] = {}
    tree = {branches[0].hops[0].device_id}
    for branch in branches:
        hops = branch.hops
        attach = max(i for i, hop in enumerate(hops) if hop.device_id in tree)
        for here, there in zip(hops[attach:], hops[attach + 1 :], strict=False):
            trunks.setdefault(here.device_id, set()).add(ports[here.egress_endpoint_id])
            trunks.setdefault(there.device_id, set()).add(ports[there.ingress_endpoint_id])
            tree.add(there.device_id)
    rules = []
    for device in sorted(edges.keys() | trunks.keys()):
        local, trunk = sorted(edges.get(device, ())), sorted(trunks.get(device, ()))
        for port in local:
            tag: list[Action] = [PushVlan(), SetField(field="vlan_vid", value=vlan)]
            actions = _out(local, port) + (tag + _out(trunk) if trunk else [])
            meter = meters.get((device, port))
            if meter is not None:
                rules.append(config_rule(owner, device, meter))
            rules.append(config_rule(owner, device, _flood(Match(in_port=port), actions, meter)))
        for port in trunk:
            untag: list[Action] = [PopVlan()]
            actions = _out(trunk, port) + (untag + _out(local) if local else [])
            match = Match(in_port=port, vlan_vid=vlan)
            rules.append(config_rule(owner, device, _flood(match, actions)))
    return rules


def edge_ports(branches: Sequence[Connection], ports: Mapping[str, int]) -> list[Edge]:
    """The edge port of each endpoint, in order: the root's, then each branch's end."""
    root = branches[0].hops[0]
    ends = [branch.hops[-1] for branch in branches]
    return [(root.device_id, ports[root.ingress_endpoint_id])] + [
        (end.device_id, ports[end.egress_endpoint_id]) for end in ends
    ]


def site_meters(
    edges: Sequence[Edge], vlan: int, bandwidth_bps: int | None
) -> dict[Edge, MeterRule]:
    """The meter of each site, by its edge port (`edges` in endpoint order), dropping
    what it sends above `bandwidth_bps`; none without a bandwidth."""
    if not bandwidth_bps:
        return {}
    return {
        edge: meter_rule(site_meter_id(vlan, site), bandwidth_bps)
        for site, edge in enumerate(edges)
    }


def _out(ports: list[int], but: int | None = None) -> list[Action]:
    return [Output(port=port) for port in ports if port != but]


def _flood(match: Match, actions: list[Action], meter: MeterRule | None = None) -> FlowRule:
    meter_id = meter.meter_id if meter else None
    return FlowRule(priority=SERVICE_PRIORITY, match=match, actions=actions, meter_id=meter_id)
