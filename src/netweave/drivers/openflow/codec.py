"""os-ken's OpenFlow 1.3 parser used as a codec library (no os-ken app, no eventlet).

Decodes what switches send, builds the cold-path requests (multipart, packet-out), and
turns decoded structures into netweave's types: ports, rules read back from the switch
(normalised exactly like the rules that were applied) and statistics.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from netweave.drivers.contract import PortState
from netweave.drivers.openflow.rules import (
    OFPP_MAX,
    RESERVED_PORT_NAMES,
    FlowRule,
    GroupRule,
    MeterRule,
)
from netweave.drivers.openflow.stats import FlowStats, PortStats
from netweave.drivers.openflow.wire import (
    GROUP_TYPES,
    OFPG_ANY,
    OFPMF_BURST,
    OFPP_ANY,
    OFPVID_PRESENT,
    Header,
    ProtocolError,
)
from netweave.model import OperStatus

MULTIPART_REPLY_MORE: Final = 1
_GROUP_TYPE_NAMES: Final = {number: name for name, number in GROUP_TYPES.items()}
_PACKET_IN_REASONS: Final = {0: "no_match", 1: "action", 2: "invalid_ttl"}
_NUMBERED: Final = re.compile(r"\(\d+\)$")


class _Datapath:
    """The two attributes os-ken's message classes read from a datapath."""

    ofproto = ofp
    ofproto_parser = parser


_DATAPATH: Final = _Datapath()


def decode(header: Header, raw: bytes) -> Any:
    """The os-ken message for the complete message `raw`; `ProtocolError` if malformed."""
    try:
        return ofproto_parser.msg(
            _DATAPATH, header.version, header.type, header.length, header.xid, raw
        )
    except Exception as exc:  # os-ken raises anything from struct.error to KeyError
        raise ProtocolError(f"malformed message of type {header.type}: {exc!r}") from exc


def encode(msg: Any, xid: int) -> bytes:
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


def error_name(error_type: int, code: int) -> str:
    """``<type name>/<code name>`` of an error, e.g. ``OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ``."""
    text = ofp.ofp_error_to_jsondict(error_type, code)
    type_name = _NUMBERED.sub("", text["type"])
    code_name = _NUMBERED.sub("", text["code"])
    if type_name == "Unknown":
        return f"error type {error_type} code {code}"
    return f"{type_name}/{code_name if code_name != 'Unknown' else code}"


def describe_error(msg: Any) -> str:
    """The switch's reason in an error message, naming ONF experimenter errors too."""
    if msg.type == ofp.OFPET_EXPERIMENTER:
        names = {v: k for k, v in vars(ofp).items() if k.startswith("ONFERR_ET_")}
        return f"OFPET_EXPERIMENTER/{names.get(msg.exp_type, msg.exp_type)}"
    return error_name(msg.type, msg.code)


# --- requests ------------------------------------------------------------------------------


def port_desc_request() -> Any:
    return parser.OFPPortDescStatsRequest(_DATAPATH)


def features_request() -> Any:
    return parser.OFPFeaturesRequest(_DATAPATH)


def flow_stats_request(cookie: int, cookie_mask: int) -> Any:
    return parser.OFPFlowStatsRequest(_DATAPATH, cookie=cookie, cookie_mask=cookie_mask)


def port_stats_request() -> Any:
    return parser.OFPPortStatsRequest(_DATAPATH)


def group_desc_request() -> Any:
    return parser.OFPGroupDescStatsRequest(_DATAPATH)


def meter_config_request() -> Any:
    return parser.OFPMeterConfigStatsRequest(_DATAPATH)


def packet_out(port: int, data: bytes) -> Any:
    return parser.OFPPacketOut(
        _DATAPATH,
        buffer_id=ofp.OFP_NO_BUFFER,
        in_port=ofp.OFPP_CONTROLLER,
        actions=[parser.OFPActionOutput(port, 0)],
        data=data,
    )


# --- decoded structures -> netweave types --------------------------------------------------


def port_state(port: Any) -> PortState:
    down = port.config & ofp.OFPPC_PORT_DOWN or port.state & ofp.OFPPS_LINK_DOWN
    return PortState(
        name=port.name.decode(errors="replace").rstrip("\0"),
        number=port.port_no,
        mac=port.hw_addr,
        speed_bps=port.curr_speed * 1000 or None,
        status=OperStatus.DOWN if down else OperStatus.UP,
    )


def is_physical(port_no: int) -> bool:
    """Whether `port_no` is a real port (not LOCAL or another reserved number)."""
    return 0 < port_no <= OFPP_MAX


def packet_in_reason(reason: int) -> str:
    return _PACKET_IN_REASONS.get(reason, str(reason))


def _prefix(address: str, mask: str) -> str:
    """``address/len`` of an address and a contiguous mask (`ValueError` otherwise)."""
    bits = ipaddress.ip_address(mask)
    length = int(bits).bit_count()
    network = ipaddress.ip_network(f"{address}/{length}")
    if network.netmask != bits:
        raise ValueError(f"mask {mask} is not a prefix")
    return str(network)


def _match_value(name: str, value: Any) -> int | str:
    if isinstance(value, tuple):  # masked: an IP prefix
        return _prefix(*value)
    if name == "vlan_vid":
        return int(value) & ~OFPVID_PRESENT
    return value if isinstance(value, int) else str(value)


def _port(number: int) -> int | str:
    return RESERVED_PORT_NAMES.get(number, number)


def _actions(decoded: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for act in decoded:
        if isinstance(act, parser.OFPActionOutput):
            out.append({"type": "output", "port": _port(act.port)})
        elif isinstance(act, parser.OFPActionSetField):
            out.append(
                {"type": "set_field", "field": act.key, "value": _match_value(act.key, act.value)}
            )
        elif isinstance(act, parser.OFPActionPushVlan):
            out.append({"type": "push_vlan", "ethertype": act.ethertype})
        elif isinstance(act, parser.OFPActionPopVlan):
            out.append({"type": "pop_vlan"})
        elif isinstance(act, parser.OFPActionGroup):
            out.append({"type": "group", "group_id": act.group_id})
        else:
            raise ValueError(f"action {type(act).__name__} is not one netweave installs")
    return out


def flow_rule(stats: Any) -> FlowRule:
    """The `FlowRule` a flow-stats entry describes (`ValueError` if netweave cannot express it)."""
    value: dict[str, Any] = {
        "kind": "flow",
        "table_id": stats.table_id,
        "priority": stats.priority,
        "match": {name: _match_value(name, v) for name, v in stats.match.items()},
        "idle_timeout": stats.idle_timeout,
        "hard_timeout": stats.hard_timeout,
    }
    for inst in stats.instructions:
        if isinstance(inst, parser.OFPInstructionActions) and inst.type == ofp.OFPIT_APPLY_ACTIONS:
            value["actions"] = _actions(inst.actions)
        elif isinstance(inst, parser.OFPInstructionGotoTable):
            value["goto_table"] = inst.table_id
        elif isinstance(inst, parser.OFPInstructionMeter):
            value["meter_id"] = inst.meter_id
        else:
            raise ValueError(f"instruction {type(inst).__name__} is not one netweave installs")
    return FlowRule.model_validate(value)


def group_rule(desc: Any) -> GroupRule:
    buckets = [
        {
            "weight": bucket.weight,
            "watch_port": None if bucket.watch_port == OFPP_ANY else bucket.watch_port,
            "watch_group": None if bucket.watch_group == OFPG_ANY else bucket.watch_group,
            "actions": _actions(bucket.actions),
        }
        for bucket in desc.buckets
    ]
    return GroupRule.model_validate(
        {
            "kind": "group",
            "group_id": desc.group_id,
            "type": _GROUP_TYPE_NAMES[desc.type],
            "buckets": buckets,
        }
    )


def meter_rule(config: Any) -> MeterRule:
    """The `MeterRule` of a meter config (`ValueError` unless it has one drop band)."""
    if len(config.bands) != 1 or config.bands[0].type != ofp.OFPMBT_DROP:
        raise ValueError(f"meter {config.meter_id} is not one drop band: {config.bands}")
    band = config.bands[0]
    return MeterRule(
        meter_id=config.meter_id,
        rate_kbps=band.rate,
        burst_kbits=band.burst_size if config.flags & OFPMF_BURST else None,
    )


def flow_stats(stats: Any, key: str) -> FlowStats:
    return FlowStats(
        key=key,
        table_id=stats.table_id,
        priority=stats.priority,
        packets=stats.packet_count,
        bytes=stats.byte_count,
        duration_s=stats.duration_sec + stats.duration_nsec / 1e9,
    )


def port_stats(stats: Any) -> PortStats:
    return PortStats(
        port=stats.port_no,
        rx_packets=stats.rx_packets,
        tx_packets=stats.tx_packets,
        rx_bytes=stats.rx_bytes,
        tx_bytes=stats.tx_bytes,
        rx_dropped=stats.rx_dropped,
        tx_dropped=stats.tx_dropped,
        rx_errors=stats.rx_errors,
        tx_errors=stats.tx_errors,
    )
