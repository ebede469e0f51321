"""OpenFlow rules of a point-to-point (E-Line) service along its connection.

Each direction is a leg along the switches of the path. On the first switch, frames from
the edge port are tagged with the service's VLAN (metered first when the service has a
bandwidth); transit switches forward by (in port, VLAN); the last switch pops the tag and
delivers to its edge port. A service within one switch needs no tag. The legs' flows
match their in port, so services never share a flow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

from netweave.drivers.openflow.rules import (
    Action,
    FlowRule,
    Match,
    MeterRule,
    OpenFlowRule,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    canonical_value,
    rule_key,
)
from netweave.model import ConfigRule, Connection
from netweave.model.ids import rule_id

SERVICE_PRIORITY = 30000
"""Above default forwarding (10) and table-miss punts (0), below LLDP punts (65000)."""

OWNER_PREFIX = "service/"

BURST_PER_SECOND = 4
"""A meter's bucket holds 1/4 s at its rate. Without one, Open vSwitch allows a whole
second's worth (a 3 s iperf3 TCP run got 1.26x the rate); 1/10 s starves TCP (0.53x);
1/4 s measured 1.03x."""

RULES_CACHED = 4096  # services whose rules are kept built

PortHop = tuple[str, int, int]
"""(device id, in port number, out port number) of one switch on a leg."""


def owner_of(service_id: str) -> str:
    return f"{OWNER_PREFIX}{service_id}"


def service_of(owner: str) -> str | None:
    """The service id of a rule owner, or None if a service does not own it."""
    return owner[len(OWNER_PREFIX) :] if owner.startswith(OWNER_PREFIX) else None


def config_rule(owner: str, device_id: str, rule: OpenFlowRule) -> ConfigRule:
    """A `ConfigRule` carrying `rule` with its canonical key and value."""
    key = rule_key(rule)
    return ConfigRule(
        id=rule_id(owner, device_id, key),
        owner=owner,
        device_id=device_id,
        key=key,
        value=canonical_value(rule),
    )


def meter_id(vlan: int, direction: int) -> int:
    """The meter of one direction (0: first endpoint to second, 1: back) of a service."""
    return 2 * vlan + direction


def p2p_rules(
    owner: str, connection: Connection, ports: Mapping[str, int], bandwidth_bps: int | None
) -> tuple[ConfigRule, ...]:
    """The rules of both legs of `connection`; `ports` numbers every endpoint of its hops.

    Cached (a reconciler asks again at every step of a service): treat them as frozen.
    """
    if connection.vlan_id is None:
        raise ValueError(f"connection {connection.id} has no VLAN")
    forward = tuple(
        (hop.device_id, ports[hop.ingress_endpoint_id], ports[hop.egress_endpoint_id])
        for hop in connection.hops
    )
    return _rules(owner, forward, connection.vlan_id, bandwidth_bps or 0)


@lru_cache(maxsize=RULES_CACHED)
def _rules(
    owner: str, forward: tuple[PortHop, ...], vlan: int, bandwidth_bps: int
) -> tuple[ConfigRule, ...]:
    backward = tuple((device, out, inp) for device, inp, out in reversed(forward))
    rules: list[ConfigRule] = []
    for direction, leg in enumerate((forward, backward)):
        meter = None
        if bandwidth_bps:
            rate_kbps = max(math.ceil(bandwidth_bps / 1000), 1)
            meter = MeterRule(
                meter_id=meter_id(vlan, direction),
                rate_kbps=rate_kbps,
                burst_kbits=max(rate_kbps // BURST_PER_SECOND, 1),
            )
            rules.append(config_rule(owner, leg[0][0], meter))
        rules += [config_rule(owner, device, flow) for device, flow in _leg(leg, vlan, meter)]
    return tuple(rules)


def _leg(leg: Sequence[PortHop], vlan: int, meter: MeterRule | None) -> list[tuple[str, FlowRule]]:
    (first, in_port, out_port), last = leg[0], len(leg) - 1
    tag: list[Action] = [PushVlan(), SetField(field="vlan_vid", value=vlan)] if last else []
    flows = [
        (
            first,
            FlowRule(
                priority=SERVICE_PRIORITY,
                match=Match(in_port=in_port),
                actions=[*tag, Output(port=out_port)],
                meter_id=meter.meter_id if meter else None,
            ),
        )
    ]
    for index, (device, in_port, out_port) in enumerate(leg[1:], start=1):
        untag: list[Action] = [PopVlan()] if index == last else []
        flow = FlowRule(
            priority=SERVICE_PRIORITY,
            match=Match(in_port=in_port, vlan_vid=vlan),
            actions=[*untag, Output(port=out_port)],
        )
        flows.append((device, flow))
    return flows
