"""OpenFlow rules of a multipoint L2VPN (E-LAN) service over its tree of branches.

A service's connections are its branches: from the first endpoint's edge switch (the
root) to each other endpoint, in order. Their union, each branch cut at the last switch
already in the tree, is a tree (no switch is reached twice, so no loop). Every switch
of the tree floods what enters the service to all of its other service ports: frames
from an edge port go out of the other edge ports as they are and out of the tree ports
tagged with the service's VLAN; tagged frames from a tree port go out of the other tree
ports and, untagged, out of the edge ports. Flows match their in port (tree ports with
the VLAN too), so services never share a flow; their frames never meet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netweave.drivers.openflow.rules import (
    Action,
    FlowRule,
    Match,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    config_rule,
)
from netweave.model import ConfigRule, Connection
from netweave.services.base import SERVICE_PRIORITY


def l2vpn_rules(
    owner: str, branches: Sequence[Connection], ports: Mapping[str, int]
) -> list[ConfigRule]:
    """The flooding rules over the tree of `branches` (in order; they share one VLAN);
    `ports` numbers every endpoint of their hops."""
    vlan = branches[0].vlan_id
    if vlan is None:
        raise ValueError(f"connection {branches[0].id} has no VLAN")
    edges: dict[str, set[int]] = {}
    trunks: dict[str, set[int]] = {}
    tree = {branches[0].hops[0].device_id}
    for branch in branches:
        hops = branch.hops
        edges.setdefault(hops[0].device_id, set()).add(ports[hops[0].ingress_endpoint_id])
        edges.setdefault(hops[-1].device_id, set()).add(ports[hops[-1].egress_endpoint_id])
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
            rules.append(config_rule(owner, device, _flood(Match(in_port=port), actions)))
        for port in trunk:
            untag: list[Action] = [PopVlan()]
            actions = _out(trunk, port) + (untag + _out(local) if local else [])
            match = Match(in_port=port, vlan_vid=vlan)
            rules.append(config_rule(owner, device, _flood(match, actions)))
    return rules


def _out(ports: list[int], but: int | None = None) -> list[Action]:
    return [Output(port=port) for port in ports if port != but]


def _flood(match: Match, actions: list[Action]) -> FlowRule:
    return FlowRule(priority=SERVICE_PRIORITY, match=match, actions=actions)
