"""OpenFlow rule payloads and the wire codec: validation, keys, and byte-for-byte
agreement of the struct fast path with os-ken's serialisation."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from netweave.drivers.openflow import codec, readback, wire
from netweave.drivers.openflow.fake_switch import FakeSwitch
from netweave.drivers.openflow.plugin import normalise_datapath_id
from netweave.drivers.openflow.rules import (
    FlowRule,
    GroupRule,
    MeterRule,
    RulePayloadError,
    canonical_value,
    cookie_for,
    is_ours,
    parse_rule,
    rule_key,
)


class _Datapath:
    ofproto = ofp
    ofproto_parser = parser


DP = _Datapath()
COOKIE = 0x4E57_0000_1234_5678


def oskenned(msg: Any, xid: int = 7) -> bytes:
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


def flow(**value: Any) -> FlowRule:
    rule = parse_rule({"kind": "flow", **value})
    assert isinstance(rule, FlowRule)
    return rule


# Each case: our payload, and the same flow-mod built with os-ken's classes.
FLOW_CASES: list[tuple[dict[str, Any], dict[str, Any], list[Any]]] = [
    ({}, {}, []),
    (
        {"match": {"in_port": 1}, "actions": [{"type": "output", "port": 2}]},
        {"in_port": 1},
        [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(2, 0)])],
    ),
    (
        {
            "match": {
                "eth_dst": "AA:BB:CC:00:00:01",
                "eth_type": 0x0800,
                "vlan_vid": 10,
                "ip_proto": 6,
                "ipv4_src": "10.0.0.7/24",
                "ipv4_dst": "10.1.2.3",
                "tcp_dst": 80,
            },
            "actions": [
                {"type": "pop_vlan"},
                {"type": "set_field", "field": "eth_src", "value": "00:00:00:00:00:0A"},
                {"type": "output", "port": "controller"},
            ],
            "meter_id": 9,
            "goto_table": 2,
            "table_id": 1,
            "priority": 7,
            "idle_timeout": 30,
            "hard_timeout": 60,
        },
        {
            "eth_dst": "aa:bb:cc:00:00:01",
            "eth_type": 0x0800,
            "vlan_vid": 0x1000 | 10,
            "ip_proto": 6,
            "ipv4_src": ("10.0.0.0", "255.255.255.0"),
            "ipv4_dst": "10.1.2.3",
            "tcp_dst": 80,
        },
        [
            parser.OFPInstructionMeter(9),
            parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS,
                [
                    parser.OFPActionPopVlan(),
                    parser.OFPActionSetField(eth_src="00:00:00:00:00:0a"),
                    parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER),
                ],
            ),
            parser.OFPInstructionGotoTable(2),
        ],
    ),
    (
        {
            "match": {"eth_type": 0x86DD, "ipv6_dst": "2001:DB8::/32", "udp_src": 53},
            "actions": [
                {"type": "push_vlan", "ethertype": 0x88A8},
                {"type": "set_field", "field": "vlan_vid", "value": 300},
                {"type": "group", "group_id": 4},
                {"type": "output", "port": "in_port"},
            ],
        },
        {"eth_type": 0x86DD, "ipv6_dst": ("2001:db8::", "ffff:ffff::"), "udp_src": 53},
        [
            parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS,
                [
                    parser.OFPActionPushVlan(0x88A8),
                    parser.OFPActionSetField(vlan_vid=0x1000 | 300),
                    parser.OFPActionGroup(4),
                    parser.OFPActionOutput(ofp.OFPP_IN_PORT, 0),
                ],
            )
        ],
    ),
    (  # a routed hop: MACs rewritten, TTL decremented
        {
            "match": {"in_port": 3, "eth_type": 0x0800, "ipv4_dst": "10.2.0.0/24"},
            "actions": [
                {"type": "dec_nw_ttl"},
                {"type": "set_field", "field": "eth_dst", "value": "00:00:00:00:00:02"},
                {"type": "output", "port": 1},
            ],
        },
        {"in_port": 3, "eth_type": 0x0800, "ipv4_dst": ("10.2.0.0", "255.255.255.0")},
        [
            parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS,
                [
                    parser.OFPActionDecNwTtl(),
                    parser.OFPActionSetField(eth_dst="00:00:00:00:00:02"),
                    parser.OFPActionOutput(1, 0),
                ],
            )
        ],
    ),
    (
        {"match": {"arp_op": 1, "arp_tpa": "10.0.0.1", "eth_type": 0x0806, "tunnel_id": 5}},
        {"eth_type": 0x0806, "arp_op": 1, "arp_tpa": "10.0.0.1", "tunnel_id": 5},
        [],
    ),
]


@pytest.mark.parametrize(("value", "match", "instructions"), FLOW_CASES)
def test_flow_add_is_byte_identical_to_osken(
    value: dict[str, Any], match: dict[str, Any], instructions: list[Any]
) -> None:
    rule = flow(**value)
    reference = parser.OFPFlowMod(
        DP,
        cookie=COOKIE,
        table_id=rule.table_id,
        command=ofp.OFPFC_ADD,
        idle_timeout=rule.idle_timeout,
        hard_timeout=rule.hard_timeout,
        priority=rule.priority,
        buffer_id=ofp.OFP_NO_BUFFER,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
        match=parser.OFPMatch(**match),
        instructions=instructions,
    )
    assert wire.flow_mod(rule, COOKIE, 7) == oskenned(reference)


@pytest.mark.parametrize(("value", "match", "instructions"), FLOW_CASES)
def test_flow_decodes_back_to_the_same_rule(
    value: dict[str, Any], match: dict[str, Any], instructions: list[Any]
) -> None:
    rule = flow(**value)
    switch = FakeSwitch(1, {})
    switch.install(wire.flow_mod(rule, COOKIE, 7))
    [entry] = switch.flow_stats()
    decoded = readback.flow_entry(entry)
    assert (decoded.rule, decoded.cookie) == (rule, COOKIE)
    assert canonical_value(decoded.rule) == canonical_value(rule)
    assert decoded.stats().key == rule_key(rule)
    # os-ken reads the same entry the same way
    reply = struct.pack("!HH4x", ofp.OFPMP_FLOW, 0) + entry
    raw = struct.pack("!BBHI", 4, ofp.OFPT_MULTIPART_REPLY, 8 + len(reply), 1) + reply
    [theirs] = ofproto_parser.msg(DP, *wire.parse_header(raw[:8]), raw).body
    assert (theirs.priority, theirs.table_id, theirs.cookie) == (
        rule.priority,
        rule.table_id,
        COOKIE,
    )
    assert [name for name, _ in theirs.match.items()] == list(rule.match)


def test_flow_strict_delete_is_byte_identical_to_osken() -> None:
    rule = flow(priority=5, match={"in_port": 3})
    reference = parser.OFPFlowMod(
        DP,
        cookie=COOKIE,
        cookie_mask=0xFFFF << 48,
        command=ofp.OFPFC_DELETE_STRICT,
        priority=5,
        buffer_id=ofp.OFP_NO_BUFFER,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
        match=parser.OFPMatch(in_port=3),
    )
    assert wire.flow_mod(rule, COOKIE, 7, delete=True) == oskenned(reference)


def test_group_mods_are_byte_identical_to_osken() -> None:
    rule = parse_rule(
        {
            "kind": "group",
            "group_id": 3,
            "type": "ff",
            "buckets": [
                {"watch_port": 1, "actions": [{"type": "output", "port": 1}]},
                {"watch_port": 2, "watch_group": 8, "actions": [{"type": "output", "port": 2}]},
            ],
        }
    )
    assert isinstance(rule, GroupRule)
    buckets = [
        parser.OFPBucket(0, 1, ofp.OFPG_ANY, [parser.OFPActionOutput(1, 0)]),
        parser.OFPBucket(0, 2, 8, [parser.OFPActionOutput(2, 0)]),
    ]
    add = parser.OFPGroupMod(DP, wire.OFPGC_ADD_OR_MOD, ofp.OFPGT_FF, 3, buckets)
    delete = parser.OFPGroupMod(DP, ofp.OFPGC_DELETE, 0, 3, [])
    assert wire.group_mod(rule, 7) == oskenned(add)
    assert wire.group_mod(rule, 7, delete=True) == oskenned(delete)


@pytest.mark.parametrize("burst", [None, 64])
def test_meter_mods_are_byte_identical_to_osken(burst: int | None) -> None:
    rule = MeterRule(meter_id=2, rate_kbps=5000, burst_kbits=burst)
    flags = ofp.OFPMF_KBPS | (ofp.OFPMF_BURST if burst else 0)
    band = parser.OFPMeterBandDrop(5000, burst or 0)
    for command in (ofp.OFPMC_ADD, ofp.OFPMC_MODIFY):
        reference = parser.OFPMeterMod(DP, command, flags, 2, [band])
        assert wire.meter_mod(rule, 7, command) == oskenned(reference)
    reference = parser.OFPMeterMod(DP, ofp.OFPMC_DELETE, 0, 2, [])
    assert wire.meter_mod(rule, 7, ofp.OFPMC_DELETE) == oskenned(reference)


@pytest.mark.parametrize("control", [wire.BUNDLE_OPEN, wire.BUNDLE_COMMIT, wire.BUNDLE_DISCARD])
def test_bundle_control_is_byte_identical_to_osken(control: int) -> None:
    reference = parser.ONFBundleCtrlMsg(DP, 9, control, wire.BUNDLE_ATOMIC_ORDERED, [])
    assert wire.bundle_control(9, control, 7) == oskenned(reference)


def test_bundle_add_is_byte_identical_to_osken_and_keeps_the_inner_xid() -> None:
    inner = parser.OFPBarrierRequest(DP)
    inner.set_xid(42)
    reference = parser.ONFBundleAddMsg(DP, 9, wire.BUNDLE_ATOMIC_ORDERED, inner, [])
    assert wire.bundle_add(9, wire.simple(wire.OFPT_BARRIER_REQUEST, 42)) == oskenned(reference, 42)


def test_bundle_replies_are_recognised() -> None:
    reply = struct.pack("!IIIHH", 0x4F4E4600, 2300, 9, wire.BUNDLE_COMMIT_REPLY, 0)
    assert wire.bundle_reply(reply) == (9, wire.BUNDLE_COMMIT_REPLY)
    assert wire.bundle_reply(struct.pack("!IIIHH", 0x2320, 2300, 9, 5, 0)) is None
    assert wire.bundle_reply(b"ONF") is None


def test_hello_offers_only_openflow_13() -> None:
    raw = wire.hello(1)
    msg = ofproto_parser.msg(DP, *wire.parse_header(raw[:8]), raw)
    assert isinstance(msg, parser.OFPHello)
    assert msg.elements[0].versions == [4]


@pytest.mark.parametrize(
    ("version", "bitmap", "ok"),
    [(4, None, True), (6, 0b1110000, True), (6, 0b1100000, False), (1, None, False)],
)
def test_peer_hello_negotiation(version: int, bitmap: int | None, ok: bool) -> None:
    body = b"" if bitmap is None else struct.pack("!HHI", 1, 8, bitmap)
    assert wire.peer_supports_13(version, body) is ok


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (struct.pack("!BBHI", 4, 0, 4, 1), "shorter than a header"),
        (struct.pack("!BBHI", 1, 14, 8, 1), "version 0x1"),
    ],
)
def test_impossible_headers_are_protocol_errors(raw: bytes, reason: str) -> None:
    with pytest.raises(wire.ProtocolError, match=reason):
        wire.parse_header(raw)


def test_error_names() -> None:
    assert codec.error_name(4, 9) == "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ"
    assert codec.error_name(4, 999) == "OFPET_BAD_MATCH/999"
    assert codec.error_name(77, 1) == "error type 77 code 1"


# --- payload validation, keys, cookies ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"kind": "flow", "match": {"eth_dst": "zz"}}, "value.match.eth_dst"),
        ({"kind": "flow", "match": {"ipv4_dst": "10.0.0.300"}}, "value.match.ipv4_dst"),
        ({"kind": "flow", "match": {"ipv4_dst": "::1"}}, "value.match.ipv4_dst"),
        ({"kind": "flow", "match": {"colour": 1}}, "value.match.colour"),
        ({"kind": "flow", "priority": 70000}, "value.priority"),
        ({"kind": "flow", "actions": [{"type": "teleport"}]}, "value.actions.0"),
        ({"kind": "flow", "table_id": 3, "goto_table": 1}, "goto_table 1 must be greater"),
        (
            {
                "kind": "flow",
                "actions": [{"type": "set_field", "field": "vlan_vid", "value": 5000}],
            },
            "value.actions.0.set_field",
        ),
        ({"kind": "group", "group_id": 1, "type": "indirect"}, "exactly one bucket"),
        ({"kind": "meter", "meter_id": 0, "rate_kbps": 1}, "value.meter_id"),
        ({"kind": "queue"}, "value.kind: expected one of flow, group, meter, got 'queue'"),
        ({}, "value.kind: expected one of flow, group, meter, got None"),
    ],
)
def test_bad_payloads_name_the_field(value: dict[str, Any], field: str) -> None:
    with pytest.raises(RulePayloadError, match=field.replace(".", r"\.")):
        parse_rule(value)


def test_values_are_normalised_to_their_canonical_form() -> None:
    rule = flow(
        priority=10,
        match={"ipv4_dst": "10.0.0.9/24", "eth_src": "AA:00:00:00:00:01", "eth_type": 2048},
    )
    assert canonical_value(rule) == {
        "kind": "flow",
        "table_id": 0,
        "priority": 10,
        "match": {"eth_src": "aa:00:00:00:00:01", "eth_type": 2048, "ipv4_dst": "10.0.0.0/24"},
        "actions": [],
        "idle_timeout": 0,
        "hard_timeout": 0,
    }
    assert parse_rule(canonical_value(rule)) == rule


def test_validated_matches_list_their_fields_in_oxm_order() -> None:
    rule = flow(match={"tcp_dst": 80, "ipv4_dst": "10.0.0.1", "ip_proto": 6, "eth_type": 2048})
    assert list(rule.match) == ["eth_type", "ip_proto", "ipv4_dst", "tcp_dst"]


def test_keys_are_canonical_and_independent_of_field_order() -> None:
    one = flow(priority=10, match={"eth_type": 2048, "in_port": 1})
    two = flow(priority=10, match={"in_port": 1, "eth_type": 2048}, actions=[])
    assert (
        rule_key(one) == rule_key(two) == "/flow/table=0/priority=10/match=in_port=1,eth_type=2048"
    )
    assert rule_key(flow()) == "/flow/table=0/priority=32768/match=*"
    assert rule_key(MeterRule(meter_id=3, rate_kbps=1)) == "/meter/3"
    assert rule_key(GroupRule(group_id=4, type="all")) == "/group/4"


def test_cookies_mark_netweave_flows() -> None:
    cookie = cookie_for("/flow/table=0/priority=1/match=*")
    assert is_ours(cookie)
    assert not is_ours(0x1)
    assert cookie != cookie_for("/flow/table=0/priority=2/match=*")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0000000000000001", "0000000000000001"),
        ("0x1", "0000000000000001"),
        ("00:00:00:00:00:00:00:AB", "00000000000000ab"),
    ],
)
def test_datapath_ids_are_normalised(given: str, expected: str) -> None:
    assert normalise_datapath_id(given) == expected


@pytest.mark.parametrize("bad", ["", "xyz", "1" * 17])
def test_bad_datapath_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="datapath_id"):
        normalise_datapath_id(bad)
