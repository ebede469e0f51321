"""The controller's own OpenFlow rules: LLDP and table-miss punts, per-host forwarding."""

from __future__ import annotations

from netweave.controller import packets
from netweave.drivers.openflow.rules import FlowRule, Match, Output, config_rule
from netweave.model import ConfigRule

LLDP_PRIORITY = 65000
HOST_PRIORITY = 10
MISS_PRIORITY = 0


class OpenFlowControlRules:
    """`ForwardingRules` and the discovery punt for OpenFlow switches."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def to_host(self, device_id: str, mac: str, port: int) -> ConfigRule:
        flow = FlowRule(
            priority=HOST_PRIORITY, match=Match(eth_dst=mac), actions=[Output(port=port)]
        )
        return config_rule(self.owner, device_id, flow)

    def punt(self, device_id: str) -> list[ConfigRule]:
        miss = FlowRule(priority=MISS_PRIORITY, actions=[Output(port="controller")])
        return [config_rule(self.owner, device_id, miss)]

    def lldp(self, device_id: str) -> ConfigRule:
        flow = FlowRule(
            priority=LLDP_PRIORITY,
            match=Match(eth_type=packets.ETH_LLDP),
            actions=[Output(port="controller")],
        )
        return config_rule(self.owner, device_id, flow)
