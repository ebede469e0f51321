"""Meter-stats replies are read as os-ken reads them (the oracle), bands added up."""

from __future__ import annotations

import struct

import pytest
from os_ken.ofproto import ofproto_v1_3_parser as parser

from netweave.drivers.openflow import readback
from netweave.drivers.openflow.wire import ProtocolError


def _entry(
    meter: int, flows: int, packets: int, octets: int, bands: list[tuple[int, int]]
) -> bytes:
    head = struct.pack("!IH6xIQQII", meter, 40 + 16 * len(bands), flows, packets, octets, 3, 0)
    return head + b"".join(struct.pack("!QQ", *band) for band in bands)


def test_entries_and_counters_match_os_ken() -> None:
    body = _entry(7, 2, 100, 64_000, [(10, 6_400), (1, 64)]) + _entry(9, 0, 0, 0, [])
    ours = [readback.meter_stats(e) for e in readback.meter_stats_entries(body)]
    offset, theirs = 0, []
    while offset < len(body):
        stats = parser.OFPMeterStats.parser(body, offset)
        theirs.append(stats)
        offset += stats.len
    assert [m.meter_id for m in ours] == [m.meter_id for m in theirs] == [7, 9]
    for mine, reference in zip(ours, theirs, strict=True):
        assert (mine.flow_count, mine.packets_in, mine.bytes_in) == (
            reference.flow_count,
            reference.packet_in_count,
            reference.byte_in_count,
        )
        assert mine.dropped_packets == sum(b.packet_band_count for b in reference.band_stats)
        assert mine.dropped_bytes == sum(b.byte_band_count for b in reference.band_stats)


@pytest.mark.parametrize(
    "body", [b"\x00" * 10, _entry(1, 0, 0, 0, [])[:4] + b"\x00\x50" + bytes(34)]
)
def test_cut_or_overlong_entries_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        readback.meter_stats_entries(body)
