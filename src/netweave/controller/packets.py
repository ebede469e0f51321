"""The few frames the controller itself builds and reads: LLDP, ARP, IPv4 and ICMP echo.

Hand-written with `struct` because they are tiny (a handful of fixed fields) and on the
discovery hot path; each builder has a parser and tests round-trip them.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ETH_LLDP = 0x88CC
ETH_ARP = 0x0806
ETH_IPV4 = 0x0800
ETH_VLAN = 0x8100
ETH_PROBE = 0x88B5  # IEEE 802 local experimental ethertype 1: latency probes
LLDP_MULTICAST = "01:80:c2:00:00:0e"
BROADCAST = "ff:ff:ff:ff:ff:ff"

_TLV_END, _TLV_CHASSIS, _TLV_PORT, _TLV_TTL = 0, 1, 2, 3
_SUBTYPE_LOCAL = 7


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class Ethernet:
    dst: str
    src: str
    ethertype: int
    payload: bytes


def parse_ethernet(frame: bytes) -> Ethernet | None:
    """The Ethernet header (skipping one 802.1Q tag), or None if the frame is too short."""
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    offset = 14
    if ethertype == ETH_VLAN:
        if len(frame) < 18:
            return None
        (ethertype,) = struct.unpack_from("!H", frame, 16)
        offset = 18
    return Ethernet(mac_str(frame[0:6]), mac_str(frame[6:12]), ethertype, frame[offset:])


def ethernet(dst: str, src: str, ethertype: int, payload: bytes) -> bytes:
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload


# -- LLDP -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LldpProbe:
    """What our LLDP frames carry: the sending device's id and port number."""

    device_id: str
    port: int


def _tlv(tlv_type: int, value: bytes) -> bytes:
    return struct.pack("!H", (tlv_type << 9) | len(value)) + value


def build_lldp(probe: LldpProbe, src_mac: str, ttl_s: int = 120) -> bytes:
    payload = (
        _tlv(_TLV_CHASSIS, bytes([_SUBTYPE_LOCAL]) + probe.device_id.encode())
        + _tlv(_TLV_PORT, bytes([_SUBTYPE_LOCAL]) + str(probe.port).encode())
        + _tlv(_TLV_TTL, struct.pack("!H", ttl_s))
        + _tlv(_TLV_END, b"")
    )
    return ethernet(LLDP_MULTICAST, src_mac, ETH_LLDP, payload)


def parse_lldp(payload: bytes) -> LldpProbe | None:
    """Our probe from an LLDP payload, or None if it is not one of ours or malformed."""
    fields: dict[int, bytes] = {}
    offset = 0
    while offset + 2 <= len(payload):
        (header,) = struct.unpack_from("!H", payload, offset)
        tlv_type, length = header >> 9, header & 0x1FF
        value = payload[offset + 2 : offset + 2 + length]
        if tlv_type == _TLV_END or len(value) < length:
            break
        fields[tlv_type] = value
        offset += 2 + length
    chassis, port = fields.get(_TLV_CHASSIS), fields.get(_TLV_PORT)
    if not chassis or not port or chassis[0] != _SUBTYPE_LOCAL or port[0] != _SUBTYPE_LOCAL:
        return None
    try:
        return LldpProbe(chassis[1:].decode(), int(port[1:].decode()))
    except (UnicodeDecodeError, ValueError):
        return None


# -- ARP / IPv4 -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arp:
    op: int  # 1 request, 2 reply
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


def parse_arp(payload: bytes) -> Arp | None:
    if len(payload) < 28:
        return None
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", payload, 0)
    if (htype, ptype, hlen, plen) != (1, ETH_IPV4, 6, 4):
        return None
    return Arp(
        op,
        mac_str(payload[8:14]),
        str(ipaddress.IPv4Address(payload[14:18])),
        mac_str(payload[18:24]),
        str(ipaddress.IPv4Address(payload[24:28])),
    )


def build_arp(arp: Arp) -> bytes:
    return struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, arp.op) + (
        mac_bytes(arp.sender_mac)
        + ipaddress.IPv4Address(arp.sender_ip).packed
        + mac_bytes(arp.target_mac)
        + ipaddress.IPv4Address(arp.target_ip).packed
    )


def ipv4_source(payload: bytes) -> str | None:
    """Source address of an IPv4 header, or None if malformed."""
    if len(payload) < 20 or payload[0] >> 4 != 4:
        return None
    return str(ipaddress.IPv4Address(payload[12:16]))


# -- IPv4 / ICMP echo ---------------------------------------------------------------------------
IP_PROTO_ICMP = 1
ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8

_IPV4 = struct.Struct("!BBHHHBBH4s4s")  # header without options; checksum at offset 10
_ICMP_ECHO = struct.Struct("!BBHHH")  # type, code, checksum (offset 2), identifier, sequence
_DONT_FRAGMENT = 0x4000
_MORE_FRAGMENTS_AND_OFFSET = 0x3FFF


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`; 0 when `data` carries a correct one."""
    padded = data + b"\0" * (len(data) % 2)
    total: int = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _checksummed(data: bytes, offset: int) -> bytes:
    """`data` with the checksum of `data` (whose checksum field is zero) at `offset`."""
    return data[:offset] + struct.pack("!H", checksum(data)) + data[offset + 2 :]


@dataclass(frozen=True)
class Ipv4:
    src: str
    dst: str
    proto: int
    payload: bytes
    ttl: int = 64


def parse_ipv4(data: bytes) -> Ipv4 | None:
    """An IPv4 packet (options skipped, Ethernet padding cut off), or None if it is
    malformed, has a wrong header checksum or is a fragment (never reassembled here)."""
    if len(data) < _IPV4.size:
        return None
    first, _, total, _, fragment, ttl, proto, _, src, dst = _IPV4.unpack_from(data)
    header = (first & 0xF) * 4
    if first >> 4 != 4 or header < _IPV4.size or not header <= total <= len(data):
        return None
    if fragment & _MORE_FRAGMENTS_AND_OFFSET or checksum(data[:header]):
        return None
    address = ipaddress.IPv4Address
    return Ipv4(str(address(src)), str(address(dst)), proto, data[header:total], ttl)


def build_ipv4(packet: Ipv4) -> bytes:
    """`packet` with a 20-byte header (no options, don't fragment, identification 0)."""
    header = _IPV4.pack(
        0x45,
        0,
        _IPV4.size + len(packet.payload),
        0,
        _DONT_FRAGMENT,
        packet.ttl,
        packet.proto,
        0,
        ipaddress.IPv4Address(packet.src).packed,
        ipaddress.IPv4Address(packet.dst).packed,
    )
    return _checksummed(header, 10) + packet.payload


@dataclass(frozen=True)
class IcmpEcho:
    type: int  # ICMP_ECHO_REQUEST or ICMP_ECHO_REPLY
    ident: int
    seq: int
    data: bytes


def parse_icmp_echo(payload: bytes) -> IcmpEcho | None:
    """An ICMP echo request or reply (RFC 792), or None if it is another message,
    truncated or has a wrong checksum."""
    if len(payload) < _ICMP_ECHO.size:
        return None
    icmp_type, code, _, ident, seq = _ICMP_ECHO.unpack_from(payload)
    if icmp_type not in (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY) or code or checksum(payload):
        return None
    return IcmpEcho(icmp_type, ident, seq, payload[_ICMP_ECHO.size :])


def build_icmp_echo(echo: IcmpEcho) -> bytes:
    message = _ICMP_ECHO.pack(echo.type, 0, 0, echo.ident, echo.seq) + echo.data
    return _checksummed(message, 2)
