"""Reading a switch's tables and ports: multipart entries (flow stats, group descriptions,
meter configs, ports, port stats) decoded with `struct`, the inverse of `wire`'s encoders.

os-ken took ~85 µs to decode one flow-stats entry and building the rule from its objects
another 30 µs, so a resync of 100k flows took seconds. Here an entry goes straight into
the value of a typed rule, validated (and so normalised) like the rules that were
applied. An entry netweave cannot express (another controller's action, a masked field
it does not install) raises `ValueError`; a truncated one raises `ProtocolError`.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

from netweave.drivers.contract import PortState
from netweave.drivers.openflow.rules import (
    OFPP_MAX,
    RESERVED_PORT_NAMES,
    FlowRule,
    GroupRule,
    MeterRule,
    rule_key,
)
from netweave.drivers.openflow.stats import FlowStats, MeterStats, PortStats
from netweave.drivers.openflow.wire import (
    GROUP_TYPES,
    OFPG_ANY,
    OFPMF_BURST,
    OFPP_ANY,
    OFPVID_PRESENT,
    OXM_FIELDS,
    ProtocolError,
)
from netweave.model import OperStatus

_FLOW_STATS: Final = struct.Struct("!HBxIIHHHH4xQQQ")
_PORT: Final = struct.Struct("!I4x6s2x16sIIIIIIII")
_PORT_STATS: Final = struct.Struct("!I4x8Q")
_PORT_STATS_SIZE: Final = 112
_PORT_COUNTERS: Final = (
    "rx_packets", "tx_packets", "rx_bytes", "tx_bytes",
    "rx_dropped", "tx_dropped", "rx_errors", "tx_errors",
)  # fmt: skip
_OFPPC_PORT_DOWN: Final = 1
_OFPPS_LINK_DOWN: Final = 1
_GROUP_DESC: Final = struct.Struct("!HBxI")
_BUCKET: Final = struct.Struct("!HHII4x")
_METER_CONFIG: Final = struct.Struct("!HHI")
_METER_STATS: Final = struct.Struct("!IH6xIQQII")  # ofp_meter_stats before its bands
_BAND_STATS: Final = struct.Struct("!QQ")  # ofp_meter_band_stats
_DROP_BAND: Final = struct.Struct("!HHII4x")
_TLV: Final = struct.Struct("!HH")
_OXM_NAMES: Final = {number: (name, size) for name, (number, size) in OXM_FIELDS.items()}
_IPV4: Final = frozenset({"ipv4_src", "ipv4_dst", "arp_spa", "arp_tpa"})
_IPV6: Final = frozenset({"ipv6_src", "ipv6_dst"})
_MACS: Final = frozenset({"eth_src", "eth_dst"})
_GROUP_TYPE_NAMES: Final = {number: name for name, number in GROUP_TYPES.items()}


def table_entries(body: bytes) -> list[bytes]:
    """The entries of a flow-stats, group-description or meter-config reply body (each
    starts with its 16-bit length)."""
    found = []
    offset = 0
    while offset < len(body):
        if offset + 2 > len(body):
            raise ProtocolError("multipart entry cut short")
        (length,) = struct.unpack_from("!H", body, offset)
        if length < 4 or offset + length > len(body):
            raise ProtocolError(f"multipart entry of length {length} overruns its message")
        found.append(body[offset : offset + length])
        offset += length
    return found


def port_entries(body: bytes) -> list[bytes]:
    """The ``ofp_port`` structs of a port-description reply body."""
    return _fixed(body, _PORT.size)


def port_stats_entries(body: bytes) -> list[bytes]:
    """The entries of a port-stats reply body."""
    return _fixed(body, _PORT_STATS_SIZE)


def meter_stats_entries(body: bytes) -> list[bytes]:
    """The entries of a meter-stats reply body (each has its 16-bit length at offset 4)."""
    found = []
    offset = 0
    while offset < len(body):
        if offset + _METER_STATS.size > len(body):
            raise ProtocolError("meter-stats entry cut short")
        (length,) = struct.unpack_from("!H", body, offset + 4)
        if length < _METER_STATS.size or offset + length > len(body):
            raise ProtocolError(f"meter-stats entry of length {length} overruns its message")
        found.append(body[offset : offset + length])
        offset += length
    return found


def meter_stats(entry: bytes) -> MeterStats:
    """A meter-stats entry: what entered the meter and what its bands dropped."""
    meter, _, flows, packets, octets, _, _ = _METER_STATS.unpack_from(entry)
    bands = [
        _BAND_STATS.unpack_from(entry, offset)
        for offset in range(_METER_STATS.size, len(entry), _BAND_STATS.size)
    ]
    return MeterStats(
        meter_id=meter,
        flow_count=flows,
        packets_in=packets,
        bytes_in=octets,
        dropped_packets=sum(band[0] for band in bands),
        dropped_bytes=sum(band[1] for band in bands),
    )


def _fixed(body: bytes, size: int) -> list[bytes]:
    if len(body) % size:
        raise ProtocolError(f"a reply of {len(body)} bytes is not made of {size}-byte entries")
    return [body[offset : offset + size] for offset in range(0, len(body), size)]


class FlowEntry(NamedTuple):
    """A flow the switch reports: the rule it implements, its cookie and counters."""

    rule: FlowRule
    cookie: int
    packets: int
    bytes: int
    duration_s: float

    def stats(self) -> FlowStats:
        rule = self.rule
        return FlowStats(
            key=rule_key(rule),
            table_id=rule.table_id,
            priority=rule.priority,
            packets=self.packets,
            bytes=self.bytes,
            duration_s=self.duration_s,
        )


def flow_entry(entry: bytes) -> FlowEntry:
    """A flow-stats entry as the rule it implements and its counters."""
    if len(entry) < _FLOW_STATS.size + 4:
        raise ProtocolError(f"flow-stats entry of {len(entry)} bytes is too short")
    _, table, seconds, nanos, priority, idle, hard, _, cookie, packets, count = (
        _FLOW_STATS.unpack_from(entry)
    )
    match, end = _match(entry, _FLOW_STATS.size)
    value: dict[str, Any] = {
        "kind": "flow",
        "table_id": table,
        "priority": priority,
        "match": match,
        "idle_timeout": idle,
        "hard_timeout": hard,
    }
    for kind, body in _tlvs(entry[end:]):
        if kind == 1:  # goto-table
            value["goto_table"] = body[0]
        elif kind == 4:  # apply-actions
            value["actions"] = _actions(body[4:])
        elif kind == 6:  # meter
            (value["meter_id"],) = struct.unpack_from("!I", body)
        else:
            raise ValueError(f"instruction type {kind} is not one netweave installs")
    return FlowEntry(FlowRule.model_validate(value), cookie, packets, count, seconds + nanos / 1e9)


def group_rule(entry: bytes) -> GroupRule:
    """A group-description entry as a `GroupRule`."""
    _, group_type, group_id = _GROUP_DESC.unpack_from(entry)
    buckets = []
    offset = _GROUP_DESC.size
    while offset < len(entry):
        length, weight, watch_port, watch_group = _BUCKET.unpack_from(entry, offset)
        if length < _BUCKET.size or offset + length > len(entry):
            raise ProtocolError(f"group {group_id}: bucket of length {length} overruns it")
        buckets.append(
            {
                "weight": weight,
                "watch_port": None if watch_port == OFPP_ANY else watch_port,
                "watch_group": None if watch_group == OFPG_ANY else watch_group,
                "actions": _actions(entry[offset + _BUCKET.size : offset + length]),
            }
        )
        offset += length
    if group_type not in _GROUP_TYPE_NAMES:
        raise ValueError(f"group {group_id}: type {group_type} is unknown")
    return GroupRule.model_validate(
        {
            "kind": "group",
            "group_id": group_id,
            "type": _GROUP_TYPE_NAMES[group_type],
            "buckets": buckets,
        }
    )


def meter_id(entry: bytes) -> int:
    (number,) = struct.unpack_from("!I", entry, 4)
    return int(number)


def meter_rule(entry: bytes) -> MeterRule:
    """A meter-config entry as a `MeterRule` (`ValueError` unless it is one drop band)."""
    _, flags, meter_id = _METER_CONFIG.unpack_from(entry)
    bands = entry[_METER_CONFIG.size :]
    if len(bands) != _DROP_BAND.size:
        raise ValueError(f"meter {meter_id} does not have exactly one band")
    band_type, _, rate, burst = _DROP_BAND.unpack(bands)
    if band_type != 1:
        raise ValueError(f"meter {meter_id}: band type {band_type} is not a drop band")
    return MeterRule(
        meter_id=meter_id, rate_kbps=rate, burst_kbits=burst if flags & OFPMF_BURST else None
    )


def is_physical(port_no: int) -> bool:
    """Whether `port_no` is a real port (not LOCAL or another reserved number)."""
    return 0 < port_no <= OFPP_MAX


def port_number(entry: bytes) -> int:
    (number,) = struct.unpack_from("!I", entry)
    return int(number)


def port_state(entry: bytes) -> PortState:
    """An ``ofp_port`` (port description, port status) as a `PortState`."""
    number, mac, name, config, state, *_, speed_kbps, _ = _PORT.unpack_from(entry)
    down = config & _OFPPC_PORT_DOWN or state & _OFPPS_LINK_DOWN
    return PortState(
        name=name.rstrip(b"\0").decode(errors="replace"),
        number=number,
        mac=mac.hex(":"),
        speed_bps=speed_kbps * 1000 or None,
        status=OperStatus.DOWN if down else OperStatus.UP,
    )


def port_stats(entry: bytes) -> PortStats:
    """A port-stats entry (the counters netweave reports)."""
    number, *counters = _PORT_STATS.unpack_from(entry)
    return PortStats(port=number, **dict(zip(_PORT_COUNTERS, counters, strict=True)))


# --- match and actions ------------------------------------------------------------------------


def _tlvs(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, body after the 4-byte type/length) of consecutive instructions or actions."""
    offset = 0
    while offset < len(data):
        kind, length = _TLV.unpack_from(data, offset)
        if length < 8 or offset + length > len(data):
            raise ProtocolError(f"instruction or action of length {length} overruns its entry")
        yield kind, data[offset + 4 : offset + length]
        offset += length


def _match(data: bytes, offset: int) -> tuple[dict[str, int | str], int]:
    """The fields of the OXM match at `offset`, and the offset after its padding."""
    match_type, length = _TLV.unpack_from(data, offset)
    end = offset + length
    if match_type != 1 or length < 4 or end > len(data):
        raise ProtocolError(f"match of type {match_type} and length {length} is malformed")
    fields: dict[str, int | str] = {}
    position = offset + 4
    while position < end:
        name, value, position = _oxm(data, position, end)
        fields[name] = value
    return fields, offset + (length + 7) // 8 * 8


def _oxm(data: bytes, offset: int, end: int) -> tuple[str, int | str, int]:
    """(name, value, next offset) of the OXM TLV at `offset`."""
    if offset + 4 > end:
        raise ProtocolError("OXM field cut short")
    (header,) = struct.unpack_from("!I", data, offset)
    oxm_class, number, masked, length = (
        header >> 16,
        header >> 9 & 0x7F,
        header >> 8 & 1,
        header & 0xFF,
    )
    start, stop = offset + 4, offset + 4 + length
    if stop > end:
        raise ProtocolError(f"OXM field {number} overruns its match")
    if oxm_class != 0x8000 or number not in _OXM_NAMES:
        raise ValueError(f"OXM field {oxm_class:#x}/{number} is not one netweave installs")
    name, size = _OXM_NAMES[number]
    if length != size * (1 + masked):
        raise ProtocolError(f"OXM field {name} has length {length}")
    return name, _oxm_value(name, data[start : start + size], data[start + size : stop]), stop


def _oxm_value(name: str, value: bytes, mask: bytes) -> int | str:
    if name in _IPV4 or name in _IPV6:
        address = socket.inet_ntop(socket.AF_INET if name in _IPV4 else socket.AF_INET6, value)
        return f"{address}/{_prefix_length(mask)}" if mask else address
    if mask:
        raise ValueError(f"masked {name} is not a match netweave installs")
    if name in _MACS:
        return value.hex(":")
    number = int.from_bytes(value, "big")
    return number & ~OFPVID_PRESENT if name == "vlan_vid" else number


def _prefix_length(mask: bytes) -> int:
    bits = int.from_bytes(mask, "big")
    length = bits.bit_count()
    width = len(mask) * 8
    if bits != ((1 << width) - 1) ^ ((1 << (width - length)) - 1):
        raise ValueError(f"mask {mask.hex()} is not a prefix")
    return length


def _actions(data: bytes) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, body in _tlvs(data):
        if kind == 0:
            (port,) = struct.unpack_from("!I", body)
            out.append({"type": "output", "port": RESERVED_PORT_NAMES.get(port, port)})
        elif kind == 25:
            name, value, _ = _oxm(body, 0, len(body))
            out.append({"type": "set_field", "field": name, "value": value})
        elif kind == 17:
            (ethertype,) = struct.unpack_from("!H", body)
            out.append({"type": "push_vlan", "ethertype": ethertype})
        elif kind == 18:
            out.append({"type": "pop_vlan"})
        elif kind == 24:
            out.append({"type": "dec_nw_ttl"})
        elif kind == 22:
            (group_id,) = struct.unpack_from("!I", body)
            out.append({"type": "group", "group_id": group_id})
        else:
            raise ValueError(f"action type {kind} is not one netweave installs")
    return out
