"""Default forwarding: shortest-path L2 forwarding for every discovered host.

Like ONOS `fwd` or Ryu's simple_switch, but proactive along shortest paths: for every
host known to discovery, each switch gets one rule "to this MAC, out of the port on the
shortest path towards the host" (a shortest-path tree rooted at the host's switch,
computed with rustworkx over the up switch-to-switch links). Rules are written to the
store as the `forwarding` owner's desired rules; the device manager installs them, so a
topology change simply rewrites the desired set.

Packets the switches cannot forward yet reach the controller: broadcasts (ARP) are
flooded out of every edge port of every switch (never on inter-switch links), and unicast
to a known host is delivered straight out of that host's port. Until discovery has seen
every link, an inter-switch port can look like an edge port, so a flooded frame may come
back; the same frame seen again within `DUPLICATE_WINDOW_S` is dropped, which ends any
such loop (a host's own retransmission comes much later).

Off unless enabled: when services are used exclusively, no forwarding rules exist.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import rustworkx as rx

from netweave.controller import packets
from netweave.controller.device_manager import DeviceManager
from netweave.controller.discovery import Attachment, Discovery
from netweave.drivers import PacketIn, PacketIO
from netweave.model import ConfigRule, Device, DeviceType, Link, OperStatus, RuleAction
from netweave.store import Change, Repository, Store
from netweave.tasks import stop_task

log = logging.getLogger(__name__)

OWNER = "forwarding"
DUPLICATE_WINDOW_S = 0.2
_NOT_FORWARDED = frozenset({packets.ETH_LLDP, packets.ETH_PROBE})  # the controller's own


class ForwardingRules(Protocol):
    """How forwarding intents become a driver's rules (e.g. OpenFlow flows)."""

    def to_host(self, device_id: str, mac: str, port: int) -> ConfigRule:
        """Send frames for `mac` out of `port` on `device_id`."""

    def punt(self, device_id: str) -> list[ConfigRule]:
        """Send unmatched frames to the controller."""


@dataclass(frozen=True)
class _Hop:
    device_id: str
    port: int


def _switch_graph(
    switches: list[Device], links: Iterable[Link], ports: dict[str, int]
) -> tuple[rx.PyDiGraph, dict[str, int]]:
    """Directed graph of switches; edge data = egress port number on the source switch."""
    graph = rx.PyDiGraph()
    index = {d.id: graph.add_node(d.id) for d in switches}
    for link in sorted(links, key=lambda k: k.id):
        a, b = link.a, link.b
        if link.status != OperStatus.UP or a.device_id not in index or b.device_id not in index:
            continue
        pa, pb = ports.get(a.endpoint_id), ports.get(b.endpoint_id)
        if pa is None or pb is None:
            continue
        graph.add_edge(index[a.device_id], index[b.device_id], pa)
        graph.add_edge(index[b.device_id], index[a.device_id], pb)
    return graph, index


def forwarding_table(
    switches: list[Device],
    links: Iterable[Link],
    ports: dict[str, int],
    hosts: dict[str, Attachment],
) -> dict[tuple[str, str], int]:
    """(switch id, host MAC) -> egress port, for every switch that can reach the host."""
    graph, index = _switch_graph(switches, links, ports)
    table: dict[tuple[str, str], int] = {}
    for mac, where in sorted(hosts.items()):
        if where.device_id not in index:
            continue
        table[(where.device_id, mac)] = where.port
        root = index[where.device_id]
        # Links are symmetric: a path from the host's switch, read backwards, leads to it.
        paths = rx.dijkstra_shortest_paths(graph, root, weight_fn=lambda _port: 1.0)
        for node, path in paths.items():
            nxt = path[-2]  # the neighbour one hop closer to the host
            table[(graph[node], mac)] = graph.get_edge_data(node, nxt)
    return table


class Forwarding:
    """Keeps the `forwarding` rules equal to the shortest-path table and floods ARP."""

    def __init__(
        self,
        store: Store,
        manager: DeviceManager,
        discovery: Discovery,
        rules: ForwardingRules,
        *,
        settle: float = 0.05,
    ) -> None:
        self._store = store
        self._manager = manager
        self._discovery = discovery
        self._rules = rules
        self._settle = settle
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._recent: dict[int, float] = {}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._manager.on_packet(self.handle_packet)
        self._store.on_commit(self._on_commit)
        self._task = asyncio.ensure_future(self._run())
        self._dirty.set()

    async def stop(self) -> None:
        await stop_task(self._task)

    def _on_commit(self, changes: list[Change]) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        if any(c.kind in ("link", "device", "endpoint") for c in changes):
            self._loop.call_soon_threadsafe(self._dirty.set)

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self._settle)  # coalesce bursts of topology events
            self._dirty.clear()
            try:
                self.recompute()
            except Exception:
                log.exception("forwarding recompute failed")

    def recompute(self) -> int:
        """Rewrite the desired forwarding rules; returns how many rules changed."""
        with self._store.read() as repo:
            switches = [d for d in repo.devices.list() if d.type != DeviceType.HOST]
            links = repo.links.list()
            ports = {e.id: e.number for e in repo.endpoints.list() if e.number is not None}
            current = {r.id: r for r in repo.rules.list(owner=OWNER)}
        table = forwarding_table(switches, links, ports, self._discovery.hosts)
        desired = {r.id: r for d in switches for r in self._rules.punt(d.id)}
        for (device_id, mac), port in table.items():
            rule = self._rules.to_host(device_id, mac, port)
            desired[rule.id] = rule
        return self._write(current, desired)

    def _write(self, current: dict[str, ConfigRule], desired: dict[str, ConfigRule]) -> int:
        changed = 0
        with self._store.transaction() as repo:
            for rule_id, rule in desired.items():
                old = current.get(rule_id)
                if old is None or old.value != rule.value or old.action != RuleAction.SET:
                    repo.rules.put(rule)
                    changed += 1
            for rule_id, old in current.items():
                if rule_id not in desired and old.action != RuleAction.DELETE:
                    repo.rules.put(old.model_copy(update={"action": RuleAction.DELETE}))
                    changed += 1
        return changed

    # -- packets the switches could not forward ------------------------------------------------
    def handle_packet(self, packet: PacketIn) -> None:
        frame = packets.parse_ethernet(packet.data)
        if frame is None or frame.ethertype in _NOT_FORWARDED or self._duplicate(packet.data):
            return
        target = self._discovery.hosts.get(frame.dst)
        if target is not None:
            hops = [_Hop(target.device_id, target.port)]
        else:
            hops = self._edge_ports(exclude=_Hop(packet.device_id, packet.in_port))
        for hop in hops:
            driver = self._manager.driver(hop.device_id)
            if isinstance(driver, PacketIO):
                self._send(driver, hop.port, packet.data)

    def _duplicate(self, data: bytes) -> bool:
        now = time.monotonic()
        if len(self._recent) > 4096:
            self._recent = {k: t for k, t in self._recent.items() if now - t < DUPLICATE_WINDOW_S}
        digest = hash(data)
        seen = self._recent.get(digest)
        self._recent[digest] = now
        return seen is not None and now - seen < DUPLICATE_WINDOW_S

    def _send(self, driver: PacketIO, port: int, data: bytes) -> None:
        task = asyncio.ensure_future(driver.send_packet(port, data))
        task.add_done_callback(_log_failure)

    def _edge_ports(self, exclude: _Hop) -> list[_Hop]:
        with self._store.read() as repo:
            return [hop for hop in _edge_ports(repo) if hop != exclude]


def _edge_ports(repo: Repository) -> list[_Hop]:
    """Up ports of switches that are not on a switch-to-switch link."""
    switches = {d.id for d in repo.devices.list() if d.type != DeviceType.HOST}
    inter: set[str] = set()
    for link in repo.links.list():
        if link.a.device_id in switches and link.b.device_id in switches:
            inter.update((link.a.endpoint_id, link.b.endpoint_id))
    return [
        _Hop(e.device_id, e.number)
        for e in repo.endpoints.list()
        if e.device_id in switches
        and e.id not in inter
        and e.number is not None
        and e.status == OperStatus.UP
    ]


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("packet-out failed: %s", task.exception())
