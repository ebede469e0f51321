"""The controller answers ARP requests for the gateway addresses of L3VPN services.

An L3VPN's punt rules send the ARP requests its hosts make for their gateway to the
controller (see `netweave.services.l3`). Such a request, arriving on a port where a
service punts requests for that address, is answered out of the same port with the
service's gateway MAC. Where the services punt is read from their rules in the store,
again after any of those rules changed.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from netweave.controller import packets
from netweave.controller.device_manager import DeviceManager
from netweave.drivers import PacketIn, PacketIO
from netweave.model import ConfigRule, RuleAction, ServiceType
from netweave.services import owner_of, service_of
from netweave.services.l3 import ARP_REQUEST, gateway_mac
from netweave.store import Change, Store

log = logging.getLogger(__name__)

Punt = tuple[str, int, str]
"""(device id, port number, gateway address) where a service punts ARP requests."""


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


class GatewayArp:
    """Answers the gateway ARP requests punted by L3VPN services."""

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
        if frame is None or frame.ethertype != packets.ETH_ARP:
            return
        request = packets.parse_arp(frame.payload)
        if request is None or request.op != ARP_REQUEST:
            return
        mac = self.punts().get((packet.device_id, packet.in_port, request.target_ip))
        driver = self._manager.driver(packet.device_id)
        if mac is None or not isinstance(driver, PacketIO):
            return
        task = asyncio.ensure_future(driver.send_packet(packet.in_port, arp_reply(request, mac)))
        self._tasks.add(task)
        task.add_done_callback(self._sent)

    def punts(self) -> dict[Punt, str]:
        """Where the services punt gateway ARP requests, and their gateway MACs."""
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
            log.warning("gateway ARP reply failed: %s", task.exception())


def _punt(rule: ConfigRule) -> Punt | None:
    """Where `rule` punts gateway ARP requests, if it is such a rule and wanted."""
    match = rule.value.get("match", {})
    port, address = match.get("in_port"), match.get("arp_tpa")
    if rule.action is not RuleAction.SET or port is None or address is None:
        return None
    return rule.device_id, port, address


def _is_punt_change(change: Change) -> bool:
    entity = change.entity
    return (
        isinstance(entity, ConfigRule)
        and service_of(entity.owner) is not None
        and "arp_tpa=" in entity.key
    )
