"""The controller answers for the gateway addresses of L3VPN services: ARP and ping.

An L3VPN's punt rules send its hosts' ARP requests and ICMP echo requests for their
gateway to the controller (see `netweave.services.l3`). Such a request, arriving on a
port where a service punts that kind of request for that address, is answered out of the
same port from the service's gateway MAC: an ARP reply, or an echo reply from the gateway
address. Where the services punt is read from their rules in the store, again after any
of those rules changed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Final

from netweave.controller import packets
from netweave.controller.device_manager import DeviceManager
from netweave.drivers import PacketIn, PacketIO
from netweave.model import ConfigRule, RuleAction, ServiceType
from netweave.services import owner_of, service_of
from netweave.services.l3 import ARP_REQUEST, ICMP_ECHO_REQUEST, gateway_mac
from netweave.store import Change, Store

log = logging.getLogger(__name__)

Punt = tuple[str, int, int, str]
"""(device id, port number, ethertype, gateway address) where a service punts the
requests of that ethertype (ARP, or IPv4 for ICMP echo) for that address."""
Asked = tuple[int, str, Callable[[str], bytes]]
"""A request for a gateway: its ethertype, the gateway address, and the frame answering
it given the gateway MAC."""


def arp_reply(request: packets.Arp, mac: str) -> bytes:
    """The Ethernet frame answering `request` with `mac` for its target address."""
    reply = packets.Arp(
        op=2,
        sender_mac=mac,
        sender_ip=request.target_ip,
        target_mac=request.sender_mac,
        target_ip=request.sender_ip,
    )
    return packets.ethernet(request.sender_mac, mac, packets.ETH_ARP, packets.build_arp(reply))


def echo_reply(host_mac: str, request: packets.Ipv4, echo: packets.IcmpEcho, mac: str) -> bytes:
    """The Ethernet frame from `mac` answering the ping `request` (carrying `echo`) sent
    by `host_mac`: the same identifier, sequence number and data, from its destination."""
    answer = packets.IcmpEcho(packets.ICMP_ECHO_REPLY, echo.ident, echo.seq, echo.data)
    reply = packets.Ipv4(
        src=request.dst,
        dst=request.src,
        proto=packets.IP_PROTO_ICMP,
        payload=packets.build_icmp_echo(answer),
    )
    return packets.ethernet(host_mac, mac, packets.ETH_IPV4, packets.build_ipv4(reply))


def asked(frame: packets.Ethernet) -> Asked | None:
    """What `frame` asks of a gateway, if it is an ARP request or an ICMP echo request."""
    parse = _REQUESTS.get(frame.ethertype)
    return parse(frame) if parse is not None else None


def _arp_request(frame: packets.Ethernet) -> Asked | None:
    request = packets.parse_arp(frame.payload)
    if request is None or request.op != ARP_REQUEST:
        return None
    return packets.ETH_ARP, request.target_ip, partial(arp_reply, request)


def _echo_request(frame: packets.Ethernet) -> Asked | None:
    ip = packets.parse_ipv4(frame.payload)
    if ip is None or ip.proto != packets.IP_PROTO_ICMP:
        return None
    echo = packets.parse_icmp_echo(ip.payload)
    if echo is None or echo.type != ICMP_ECHO_REQUEST:
        return None
    return packets.ETH_IPV4, ip.dst, partial(echo_reply, frame.src, ip, echo)


_REQUESTS: Final[dict[int, Callable[[packets.Ethernet], Asked | None]]] = {
    packets.ETH_ARP: _arp_request,
    packets.ETH_IPV4: _echo_request,
}


class Gateway:
    """Answers the gateway ARP and echo requests punted by L3VPN services."""

    def __init__(self, store: Store, manager: DeviceManager) -> None:
        self._store = store
        self._manager = manager
        self._lock = threading.Lock()
        self._generation = 0
        self._punts: dict[Punt, str] | None = None  # -> gateway MAC; None: read again
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._store.on_commit(self._on_commit)
        self._manager.on_packet(self.handle_packet)

    def handle_packet(self, packet: PacketIn) -> None:
        frame = packets.parse_ethernet(packet.data)
        request = asked(frame) if frame is not None else None
        if request is None:
            return
        ethertype, address, answer = request
        mac = self.punts().get((packet.device_id, packet.in_port, ethertype, address))
        driver = self._manager.driver(packet.device_id)
        if mac is None or not isinstance(driver, PacketIO):
            return
        task = asyncio.ensure_future(driver.send_packet(packet.in_port, answer(mac)))
        self._tasks.add(task)
        task.add_done_callback(self._sent)

    def punts(self) -> dict[Punt, str]:
        """Where the services punt gateway requests, and their gateway MACs."""
        with self._lock:
            punts, generation = self._punts, self._generation
        if punts is not None:
            return punts
        with self._store.read() as repo:
            services = [s for s in repo.services.list() if s.type is ServiceType.L3VPN]
            punts = {
                punt: gateway_mac(service.id)
                for service in services
                for rule in repo.rules.list(owner=owner_of(service.id))
                if (punt := _punt(rule)) is not None
            }
        with self._lock:
            if generation == self._generation:  # no punt rule changed meanwhile
                self._punts = punts
        return punts

    def _on_commit(self, changes: list[Change]) -> None:
        if any(_is_punt_change(change) for change in changes):
            with self._lock:
                self._generation += 1
                self._punts = None

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("gateway reply failed: %s", task.exception())


def _punted(match: Mapping[str, object]) -> tuple[int, str] | None:
    """(ethertype, gateway address) of the requests a rule with `match` punts, if any."""
    if "arp_tpa" in match:
        return packets.ETH_ARP, str(match["arp_tpa"])
    if match.get("icmpv4_type") == ICMP_ECHO_REQUEST and "ipv4_dst" in match:
        return packets.ETH_IPV4, str(match["ipv4_dst"])
    return None


def _punt(rule: ConfigRule) -> Punt | None:
    """Where `rule` punts gateway requests, if it is such a rule and wanted."""
    match = rule.value.get("match", {})
    port, punted = match.get("in_port"), _punted(match)
    if rule.action is not RuleAction.SET or not isinstance(port, int) or punted is None:
        return None
    return rule.device_id, port, *punted


def _is_punt_change(change: Change) -> bool:
    entity = change.entity
    return (
        isinstance(entity, ConfigRule)
        and service_of(entity.owner) is not None
        and _punted(entity.value.get("match", {})) is not None
    )
