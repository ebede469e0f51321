from __future__ import annotations

import pytest

from netweave.controller import packets

MAC = "02:00:00:00:00:0a"


def test_lldp_roundtrip() -> None:
    probe = packets.LldpProbe("6f1c1d8e-3b0a-5b4e-9a51-6e65747765ae", 42)
    frame = packets.parse_ethernet(packets.build_lldp(probe, MAC))
    assert frame is not None
    assert (frame.dst, frame.src, frame.ethertype) == (packets.LLDP_MULTICAST, MAC, 0x88CC)
    assert packets.parse_lldp(frame.payload) == probe


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x02", b"\x02\x07\x07abc", b"\x02\x05\x04abcd\x04\x03\x07x1\x00\x00"],
)
def test_foreign_or_broken_lldp_is_ignored(payload: bytes) -> None:
    assert packets.parse_lldp(payload) is None


def test_arp_roundtrip_and_vlan_tag_skipped() -> None:
    arp = packets.Arp(1, MAC, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.2")
    body = packets.build_arp(arp)
    tagged = (
        packets.mac_bytes(packets.BROADCAST)
        + packets.mac_bytes(MAC)
        + b"\x81\x00\x00\x0a\x08\x06"
        + body
    )
    frame = packets.parse_ethernet(tagged)
    assert frame is not None and frame.ethertype == packets.ETH_ARP
    assert packets.parse_arp(frame.payload) == arp


def test_truncated_frames() -> None:
    assert packets.parse_ethernet(b"\x00" * 13) is None
    assert packets.parse_arp(b"\x00" * 27) is None
    assert packets.ipv4_source(b"\x45" + b"\x00" * 10) is None


def test_ipv4_source() -> None:
    header = bytes([0x45]) + bytes(11) + bytes([10, 0, 0, 7]) + bytes([10, 0, 0, 8])
    assert packets.ipv4_source(header) == "10.0.0.7"
