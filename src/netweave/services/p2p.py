"""OpenFlow rules of a point-to-point (E-Line) service along its connection.

Each direction is a leg along the switches of the path. On the first switch, frames from
the edge port are tagged with the service's VLAN (metered first when the service has a
bandwidth); transit switches forward by (in port, VLAN); the last switch pops the tag and
delivers to its edge port. A service within one switch needs no tag. The legs' flows
match their in port, so services never share a flow.

A protected service also has a link-disjoint backup path and a VLAN per direction (the
primary connection's one way, the backup's back), so frames sent back along the primary
are told from the other direction's. Every switch of the primary forwards through a
fast-failover group, switched by the switch itself when a port goes down: the first
switch to the backup path, the others back out of the port the frame came in by
("crank back"); frames coming back are passed on to the first switch, which puts them on
the backup path (whose flows match its own in ports, distinct from the primary's).
The reconciler then computes new paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

from netweave.drivers.openflow.rules import (
    Action,
    Bucket,
    FlowRule,
    GroupRule,
    Match,
    MeterRule,
    OpenFlowRule,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    ToGroup,
    config_rule,
)
from netweave.model import ConfigRule, Connection
from netweave.services.base import SERVICE_PRIORITY

BURST_PER_SECOND = 4
"""A meter's bucket holds 1/4 s at its rate. Without one, Open vSwitch allows a whole
second's worth (a 3 s iperf3 TCP run got 1.26x the rate); 1/10 s starves TCP (0.53x);
1/4 s measured 1.03x."""

SITES_PER_VLAN = 1 << 16
"""Meter ids per multipoint service: one per site (see `site_meter_id`)."""

RULES_CACHED = 4096  # services whose rules are kept built

PortHop = tuple[str, int, int]
"""(device id, in port number, out port number) of one switch on a leg."""
Leg = tuple[PortHop, ...]
"""The switches of one direction of one path, first to last."""


def meter_id(vlan: int, direction: int) -> int:
    """The meter and the fast-failover groups of one direction (0: first endpoint to
    second, 1: back) of the service whose (primary) VLAN is `vlan`."""
    return 2 * vlan + direction


def site_meter_id(vlan: int, site: int) -> int:
    """The meter of site `site` (an endpoint index) of the multipoint service whose VLAN
    is `vlan`: unique network-wide as VLANs are, and above every `meter_id` (those are
    below 2 * 4095 < `SITES_PER_VLAN`)."""
    if not 0 <= site < SITES_PER_VLAN:
        raise ValueError(f"site {site} is not within 0-{SITES_PER_VLAN - 1}")
    return vlan * SITES_PER_VLAN + site


def meter_rule(ident: int, bandwidth_bps: int) -> MeterRule:
    """A meter dropping what exceeds `bandwidth_bps` (rounded up to kbit/s), its bucket
    holding 1/`BURST_PER_SECOND` s at that rate."""
    rate_kbps = max(math.ceil(bandwidth_bps / 1000), 1)
    return MeterRule(
        meter_id=ident, rate_kbps=rate_kbps, burst_kbits=max(rate_kbps // BURST_PER_SECOND, 1)
    )


def p2p_rules(
    owner: str,
    connections: Sequence[Connection],
    ports: Mapping[str, int],
    bandwidth_bps: int | None,
) -> tuple[ConfigRule, ...]:
    """The rules of both legs of the primary connection and, if one follows it, of its
    backup; `ports` numbers every endpoint of their hops.

    Cached (a reconciler asks again at every step of a service): treat them as frozen.
    """
    vlans = [c.vlan_id for c in connections]
    if None in vlans:
        raise ValueError(f"connection {connections[vlans.index(None)].id} has no VLAN")
    forward, *backup = (
        tuple(
            (h.device_id, ports[h.ingress_endpoint_id], ports[h.egress_endpoint_id]) for h in c.hops
        )
        for c in connections
    )
    first_vlan = connections[0].vlan_id or 0
    back_vlan = connections[-1].vlan_id or 0  # the backup's when protected
    return _rules(
        owner, forward, backup[0] if backup else None, (first_vlan, back_vlan), bandwidth_bps or 0
    )


@lru_cache(maxsize=RULES_CACHED)
def _rules(
    owner: str, forward: Leg, backup: Leg | None, vlans: tuple[int, int], bandwidth_bps: int
) -> tuple[ConfigRule, ...]:
    rules: list[ConfigRule] = []
    directions = ((forward, backup), (_reversed(forward), backup and _reversed(backup)))
    for direction, ((leg, spare), vlan) in enumerate(zip(directions, vlans, strict=True)):
        ident = meter_id(vlans[0], direction)
        meter = None
        if bandwidth_bps:
            meter = meter_rule(ident, bandwidth_bps)
            rules.append(config_rule(owner, leg[0][0], meter))
        if spare is None:
            entry = _entry(leg, _exit(leg, vlan), meter)
            parts = [entry, *_onward(leg, vlan)]
        else:
            parts = [*_protected(leg, vlan, ident, meter, spare), *_onward(spare, vlan)]
        rules += [config_rule(owner, device, rule) for device, rule in parts]
    return tuple(rules)


def _protected(
    leg: Leg, vlan: int, ident: int, meter: MeterRule | None, spare: Leg
) -> list[tuple[str, OpenFlowRule]]:
    """The primary leg with fast failover at every switch: the first one switches to the
    spare leg; the others send back where the frame came from (crank back), and frames
    coming back are passed on towards the first switch, which puts them on the spare."""
    (first, _, out), spare_out = leg[0], spare[0][2]
    buckets = [
        Bucket(watch_port=port, actions=_exit(path, vlan))
        for path, port in ((leg, out), (spare, spare_out))
    ]
    parts: list[tuple[str, OpenFlowRule]] = [
        (first, GroupRule(group_id=ident, type="ff", buckets=buckets)),
        _entry(leg, [ToGroup(group_id=ident)], meter),
        (first, _flow(Match(in_port=out, vlan_vid=vlan), [Output(port=spare_out)])),
    ]
    for device, in_port, out_port in leg[1:-1]:
        buckets = [
            Bucket(watch_port=out_port, actions=[Output(port=out_port)]),
            Bucket(watch_port=in_port, actions=[Output(port="in_port")]),
        ]
        parts += [
            (device, GroupRule(group_id=ident, type="ff", buckets=buckets)),
            (device, _flow(Match(in_port=in_port, vlan_vid=vlan), [ToGroup(group_id=ident)])),
            (device, _flow(Match(in_port=out_port, vlan_vid=vlan), [Output(port=in_port)])),
        ]
    return parts + _onward(leg[-2:], vlan)


def _reversed(leg: Leg) -> Leg:
    return tuple((device, out, inp) for device, inp, out in reversed(leg))


def _flow(match: Match, actions: list[Action], meter: MeterRule | None = None) -> FlowRule:
    return FlowRule(
        priority=SERVICE_PRIORITY,
        match=match,
        actions=actions,
        meter_id=meter.meter_id if meter else None,
    )


def _entry(leg: Leg, actions: list[Action], meter: MeterRule | None) -> tuple[str, FlowRule]:
    """The flow taking frames from the leg's edge port."""
    first, in_port, _ = leg[0]
    return first, _flow(Match(in_port=in_port), actions, meter)


def _exit(leg: Leg, vlan: int) -> list[Action]:
    """Out of the leg's first switch: tagged, unless the leg ends there."""
    tag: list[Action] = [PushVlan(), SetField(field="vlan_vid", value=vlan)]
    return [*(tag if len(leg) > 1 else []), Output(port=leg[0][2])]


def _onward(leg: Leg, vlan: int) -> list[tuple[str, OpenFlowRule]]:
    """The flows after the first switch: forward by (in port, VLAN); untag at the last."""
    flows: list[tuple[str, OpenFlowRule]] = []
    for index, (device, in_port, out_port) in enumerate(leg[1:], start=2):
        untag: list[Action] = [PopVlan()] if index == len(leg) else []
        match = Match(in_port=in_port, vlan_vid=vlan)
        flows.append((device, _flow(match, [*untag, Output(port=out_port)])))
    return flows
