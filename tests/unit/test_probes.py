"""Latency probe frames and the packet-out that injects them into a switch's tables."""

from __future__ import annotations

import struct

from netweave.controller import packets
from netweave.controller.packets import ETH_PROBE
from netweave.controller.probes import build_probe, parse_probe
from netweave.drivers.openflow import codec

OFPP_TABLE = 0xFFFFFFF9


def test_probe_frames_round_trip_tagged_or_not() -> None:
    frame = build_probe(2**64 - 1)
    assert len(frame) == 60
    assert packets.parse_ethernet(frame) is not None
    assert struct.unpack_from("!H", frame, 12) == (ETH_PROBE,)
    assert parse_probe(frame) == 2**64 - 1
    assert parse_probe(frame[:12] + struct.pack("!HH", 0x8100, 100) + frame[12:]) == 2**64 - 1


def test_other_frames_are_not_probes() -> None:
    frame = build_probe(5)
    assert parse_probe(frame.replace(b"NWLP", b"XXXX")) is None  # our ethertype, not ours
    other = packets.ethernet(packets.BROADCAST, "02:00:00:00:00:01", packets.ETH_ARP, frame[14:])
    assert parse_probe(other) is None
    assert parse_probe(frame[:20]) is None  # too short for a token


def test_table_packet_out_runs_the_frame_through_the_tables_from_its_in_port() -> None:
    frame = build_probe(1)
    raw = codec.encode(codec.table_packet_out(7, frame), 42)
    version, kind, length, xid, buffer_id, in_port, actions_len = struct.unpack_from(
        "!BBHIIIH", raw
    )
    assert (version, kind, length, xid) == (4, 13, len(raw), 42)  # OF1.3 PACKET_OUT
    assert (buffer_id, in_port, actions_len) == (0xFFFFFFFF, 7, 16)
    action_type, _, port = struct.unpack_from("!HHI", raw, 24)
    assert (action_type, port) == (0, OFPP_TABLE)  # OUTPUT to TABLE
    assert raw.endswith(frame)
