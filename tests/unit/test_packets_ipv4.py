"""IPv4 and ICMP echo packets the controller reads and builds: the Internet checksum,
round trips, and what is refused (bad checksums, fragments, truncation, other messages)."""

from __future__ import annotations

import struct

import pytest

from netweave.controller import packets


def _with(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


ECHO = packets.IcmpEcho(packets.ICMP_ECHO_REQUEST, 0x1234, 7, b"payload")


def test_checksum_of_a_known_header() -> None:
    # a commonly worked example: this UDP packet's header has the checksum 0xb861
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert packets.checksum(header) == 0xB861
    assert packets.checksum(header[:10] + b"\xb8\x61" + header[12:]) == 0
    assert packets.checksum(b"\x01") == 0xFEFF  # an odd length is padded with a zero byte


def test_ipv4_and_icmp_echo_round_trip() -> None:
    message = packets.build_icmp_echo(ECHO)
    assert packets.parse_icmp_echo(message) == ECHO
    ip = packets.Ipv4("10.1.0.1", "10.2.0.1", packets.IP_PROTO_ICMP, message, ttl=17)
    raw = packets.build_ipv4(ip)
    assert packets.parse_ipv4(raw) == ip
    assert packets.parse_ipv4(raw + bytes(6)) == ip  # Ethernet padding is not payload


def test_ipv4_options_are_skipped() -> None:
    src, dst = bytes([10, 1, 0, 1]), bytes([10, 2, 0, 1])
    header = struct.pack("!BBHHHBBH4s4s", 0x46, 0, 28, 0, 0, 64, 17, 0, src, dst)
    header += b"\x01\x01\x01\x00"  # options: three no-ops and the end of the list
    header = _with(header, 10, struct.pack("!H", packets.checksum(header)))
    assert packets.parse_ipv4(header + b"data") == packets.Ipv4("10.1.0.1", "10.2.0.1", 17, b"data")


RAW = packets.build_ipv4(packets.Ipv4("10.1.0.1", "10.2.0.1", 1, packets.build_icmp_echo(ECHO)))


@pytest.mark.parametrize(
    "raw",
    [
        RAW[:19],  # shorter than a header
        RAW[:-1],  # shorter than its total length
        _with(RAW, 0, b"\x65"),  # version 6
        _with(RAW, 0, b"\x44"),  # header shorter than 20 bytes
        _with(RAW, 11, bytes([RAW[11] ^ 1])),  # header checksum wrong
    ],
)
def test_broken_ipv4_is_refused(raw: bytes) -> None:
    assert packets.parse_ipv4(raw) is None


@pytest.mark.parametrize("flags_offset", [0x2000, 0x0001])  # more fragments; a later one
def test_fragments_are_refused(flags_offset: int) -> None:
    raw = _with(RAW, 6, struct.pack("!H", flags_offset))
    raw = _with(raw, 10, struct.pack("!H", packets.checksum(_with(raw, 10, b"\0\0"))))
    assert packets.parse_ipv4(raw) is None


@pytest.mark.parametrize(
    "message",
    [
        packets.build_icmp_echo(ECHO)[:7],  # truncated
        _with(packets.build_icmp_echo(ECHO), 8, b"P"),  # checksum wrong
        _with(packets.build_icmp_echo(ECHO), 0, b"\x03"),  # destination unreachable
        _with(packets.build_icmp_echo(ECHO), 1, b"\x01"),  # code not 0
    ],
)
def test_other_or_broken_icmp_is_refused(message: bytes) -> None:
    assert packets.parse_icmp_echo(message) is None
