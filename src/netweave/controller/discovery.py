"""Topology and host discovery from the data plane.

Links: every `interval` an LLDP probe naming (device id, port number) is sent out of every
up port of every connected device that can send packets; a probe that comes back as a
packet-in on another device proves a link, stored with origin `discovered`. A discovered
link not re-proven within `timeout` is removed (port-down removes it at once, see
`topology_sync`).

Hosts: an ARP or IPv4 packet-in from a port that is not an inter-switch port reveals a
host (MAC, IP, attachment point). A host already in the inventory with that MAC (e.g.
from a descriptor) is attached where it was seen; an unknown one is created as
``host-<mac>``. A host seen elsewhere has moved: its old attachment link is replaced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from netweave.controller import packets
from netweave.controller.device_manager import DeviceManager
from netweave.drivers import PacketIn, PacketIO
from netweave.model import (
    ConfigRule,
    Device,
    DeviceType,
    Endpoint,
    EndpointRef,
    Link,
    LinkOrigin,
    OperStatus,
)
from netweave.model.ids import device_id as make_device_id
from netweave.model.ids import endpoint_id, link_id
from netweave.store import Repository, Store
from netweave.tasks import every, stop_task

log = logging.getLogger(__name__)

CONTROLLER_MAC = "02:4e:57:00:00:01"  # locally administered; "NW"
HOST_PORT = "eth0"


@dataclass(frozen=True)
class Attachment:
    device_id: str
    port: int


class Discovery:
    """Keeps the store's links and hosts equal to what the data plane shows."""

    def __init__(
        self,
        store: Store,
        manager: DeviceManager,
        *,
        punt_rule: Callable[[str], ConfigRule] | None = None,
        interval: float = 0.5,
        timeout: float = 2.0,
    ) -> None:
        """`punt_rule(device_id)` is the rule that sends LLDP to the controller; it is made
        a desired rule of every device that can send packets."""
        self._store = store
        self._manager = manager
        self._punt_rule = punt_rule
        self._punting: set[str] = set()
        self.interval = interval
        self.timeout = timeout
        self._last_seen: dict[str, float] = {}
        self._hosts: dict[str, Attachment] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._manager.on_packet(self.handle_packet)
        self._task = asyncio.ensure_future(every(self.interval, self._round, "discovery round"))

    async def stop(self) -> None:
        await stop_task(self._task)

    # -- probing ------------------------------------------------------------------------------
    async def _round(self) -> None:
        await self.probe_once()
        self.expire()

    async def probe_once(self) -> int:
        """Send one LLDP probe out of every up port; returns how many were sent."""
        sent = 0
        devices = self._manager.connected_devices()
        with self._store.read() as repo:
            ports = {d.id: repo.endpoints.list(scope=d.id) for d in devices}
        for device in devices:
            driver = self._manager.driver(device.id)
            if not isinstance(driver, PacketIO) or not driver.capabilities.packet_io:
                continue
            self._ensure_punt(device.id)
            for port in ports[device.id]:
                if port.number is None or port.status != OperStatus.UP:
                    continue
                probe = packets.LldpProbe(device.id, port.number)
                await driver.send_packet(port.number, packets.build_lldp(probe, CONTROLLER_MAC))
                sent += 1
        return sent

    def _ensure_punt(self, device_id: str) -> None:
        if self._punt_rule is None or device_id in self._punting:
            return
        rule = self._punt_rule(device_id)
        with self._store.transaction() as repo:
            if repo.rules.find(rule.id) is None:
                repo.rules.put(rule)
        self._punting.add(device_id)

    def expire(self, now: float | None = None) -> list[str]:
        """Remove discovered switch links not proven within `timeout`; returns their ids."""
        now = time.monotonic() if now is None else now
        stale = [lid for lid, seen in self._last_seen.items() if now - seen > self.timeout]
        if not stale:
            return []
        with self._store.transaction() as repo:
            for lid in stale:
                del self._last_seen[lid]
                if repo.links.find(lid) is not None:
                    repo.links.delete(lid)
        log.info("links expired: %s", stale)
        return stale

    # -- packet-in ----------------------------------------------------------------------------
    def handle_packet(self, packet: PacketIn) -> None:
        frame = packets.parse_ethernet(packet.data)
        if frame is None:
            return
        if frame.ethertype == packets.ETH_LLDP:
            probe = packets.parse_lldp(frame.payload)
            if probe is not None:
                self._link_seen(probe, Attachment(packet.device_id, packet.in_port))
            return
        ip: str | None = None
        if frame.ethertype == packets.ETH_ARP:
            arp = packets.parse_arp(frame.payload)
            ip = arp.sender_ip if arp else None
        elif frame.ethertype == packets.ETH_IPV4:
            ip = packets.ipv4_source(frame.payload)
        else:
            return
        self._host_seen(frame.src, ip, Attachment(packet.device_id, packet.in_port))

    def _link_seen(self, probe: packets.LldpProbe, dst: Attachment) -> None:
        src = Attachment(probe.device_id, probe.port)
        if src.device_id == dst.device_id and src.port == dst.port:
            return
        with self._store.read() as repo:
            a, b = _endpoint_at(repo, src), _endpoint_at(repo, dst)
            if a is None or b is None:
                return
            known = _link_between(repo, a, b)
        if known is not None and known.status == OperStatus.UP:
            lid: str | None = known.id if known.origin == LinkOrigin.DISCOVERED else None
        else:
            with self._store.transaction() as repo:
                lid = _ensure_link(repo, a, b)
            # A port now known to join two switches attaches no host.
            self._hosts = {m: w for m, w in self._hosts.items() if w not in (src, dst)}
        if lid is not None:
            self._last_seen[lid] = time.monotonic()

    def _host_seen(self, mac: str, ip: str | None, where: Attachment) -> None:
        if self._hosts.get(mac) == where:
            return
        with self._store.read() as repo:
            switch_port = _endpoint_at(repo, where)
            if switch_port is None or _is_inter_switch(repo, switch_port):
                return
        with self._store.transaction() as repo:
            _ensure_link(repo, _host_endpoint(repo, mac, ip), switch_port)
        self._hosts[mac] = where
        log.info("host %s (%s) at %s port %d", mac, ip, where.device_id, where.port)

    @property
    def hosts(self) -> dict[str, Attachment]:
        """Where each host MAC was last seen."""
        return dict(self._hosts)


def _endpoint_at(repo: Repository, where: Attachment) -> Endpoint | None:
    return next(
        (e for e in repo.endpoints.list(scope=where.device_id) if e.number == where.port), None
    )


def _links_at(repo: Repository, endpoint: Endpoint) -> list[Link]:
    return [
        link
        for link in repo.links.list()
        if endpoint.id in (link.a.endpoint_id, link.b.endpoint_id)
    ]


def _link_between(repo: Repository, a: Endpoint, b: Endpoint) -> Link | None:
    return next(
        (k for k in _links_at(repo, a) if {k.a.endpoint_id, k.b.endpoint_id} == {a.id, b.id}),
        None,
    )


def _is_inter_switch(repo: Repository, endpoint: Endpoint) -> bool:
    for link in _links_at(repo, endpoint):
        other = link.b if link.a.endpoint_id == endpoint.id else link.a
        peer = repo.devices.find(other.device_id)
        if peer is not None and peer.type != DeviceType.HOST:
            return True
    return False


def _ensure_link(repo: Repository, a: Endpoint, b: Endpoint) -> str | None:
    """Make `a`—`b` a link, replacing discovered links that attach either end elsewhere.
    Returns the id of a discovered link (None when a declared link already joins them)."""
    existing = _link_between(repo, a, b)
    if existing is not None:
        if existing.status != OperStatus.UP:
            repo.links.update(existing.model_copy(update={"status": OperStatus.UP}))
        return existing.id if existing.origin == LinkOrigin.DISCOVERED else None
    for link in _links_at(repo, a) + _links_at(repo, b):
        if link.origin == LinkOrigin.DISCOVERED and repo.links.find(link.id) is not None:
            repo.links.delete(link.id)
    first, second = sorted((a, b), key=lambda e: e.id)
    names = [f"{_device_name(repo, e)}:{e.name}" for e in (first, second)]
    name = "--".join(names)
    repo.links.add(
        Link(
            id=link_id(name),
            name=name,
            a=EndpointRef(device_id=first.device_id, endpoint_id=first.id),
            b=EndpointRef(device_id=second.device_id, endpoint_id=second.id),
            status=OperStatus.UP,
            origin=LinkOrigin.DISCOVERED,
        )
    )
    return link_id(name)


def _device_name(repo: Repository, endpoint: Endpoint) -> str:
    device = repo.devices.find(endpoint.device_id)
    return device.name if device else endpoint.device_id


def _host_endpoint(repo: Repository, mac: str, ip: str | None) -> Endpoint:
    """The host port with this MAC (up, with the address seen), creating the host if new.
    A seen address replaces a stored one only when it differs (kept as /32: the prefix
    length cannot be seen on the wire)."""
    existing = next((e for e in repo.endpoints.list() if e.mac == mac), None)
    host = repo.devices.find(existing.device_id) if existing else None
    if existing is None or host is None or host.type != DeviceType.HOST:
        name = "host-" + mac.replace(":", "")
        host = repo.devices.add(
            Device(id=make_device_id(name), name=name, type=DeviceType.HOST, status=OperStatus.UP)
        )
        existing = repo.endpoints.add(
            Endpoint(id=endpoint_id(name, HOST_PORT), name=HOST_PORT, device_id=host.id, mac=mac)
        )
    update: dict[str, object] = {"status": OperStatus.UP}
    if ip and (existing.ip or "").split("/")[0] != ip:
        update["ip"] = f"{ip}/32"
    if any(getattr(existing, k) != v for k, v in update.items()):
        existing = repo.endpoints.update(existing.model_copy(update=update))
    return existing
