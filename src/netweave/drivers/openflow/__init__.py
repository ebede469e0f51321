"""The OpenFlow 1.3 driver: an asyncio controller for real switches (Open vSwitch).

`OpenFlowPlugin` listens for switches; `OpenFlowDriver` drives the one whose datapath id
a device names. Rule payloads are the typed models of `netweave.drivers.openflow.rules`.
"""

from netweave.drivers.openflow.plugin import (
    InvalidDeviceError,
    OpenFlowDriver,
    OpenFlowPlugin,
    normalise_datapath_id,
)
from netweave.drivers.openflow.rules import (
    Bucket,
    FlowRule,
    GroupRule,
    Match,
    MeterRule,
    RulePayloadError,
    canonical_value,
    parse_rule,
    rule_key,
)
from netweave.drivers.openflow.server import DatapathInfo
from netweave.drivers.openflow.stats import FlowStats, MeterStats, PortStats

__all__ = [
    "Bucket",
    "DatapathInfo",
    "FlowRule",
    "FlowStats",
    "GroupRule",
    "InvalidDeviceError",
    "Match",
    "MeterRule",
    "MeterStats",
    "OpenFlowDriver",
    "OpenFlowPlugin",
    "PortStats",
    "RulePayloadError",
    "canonical_value",
    "normalise_datapath_id",
    "parse_rule",
    "rule_key",
]
