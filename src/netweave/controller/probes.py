"""Active latency probes through point-to-point services.

Every `interval` seconds, for each active p2p service that crosses switches, the
controller injects a probe frame into the service's first switch of each direction as
if the service's host had sent it (a packet-out through the flow tables with
``in_port`` = the edge port), so the switches carry it along the service path like host
traffic. At the last switch, a probe punt rule (one per service delivery flow, same
match plus the probe ethertype, one priority above the service's) sends it to the
controller instead of the far host. The time from injection to its packet-in is written
as ``service.latency_ms`` tagged ``service``, and ``device``/``port`` of the edge port
it was injected at.

What it measures: controller -> first switch (control channel), the switches and links
of the service path one way, last switch -> controller. It is an upper bound of the
path's one-way latency; on one host, the two control-channel legs dominate.

A probe carries a random 64-bit token only the controller knows, so frames a host forges with the
probe ethertype are ignored; a probe not back within `timeout` is forgotten (counted in
``lost``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from netweave.assurance import SampleBatch, TimeSeriesStore, series_key
from netweave.controller import packets
from netweave.controller.device_manager import DeviceManager
from netweave.drivers import DeviceUnreachableError, DriverError, PacketIn
from netweave.drivers.contract import PacketInjector
from netweave.drivers.openflow.rules import FlowRule, config_rule
from netweave.model import (
    ConfigRule,
    JsonObject,
    RuleAction,
    RuleStatus,
    ServiceStatus,
    ServiceType,
)
from netweave.services import SERVICE_PRIORITY, owner_of
from netweave.store import Repository, Store
from netweave.tasks import every, stop_task

log = logging.getLogger(__name__)

OWNER = "probes"
PROBE_PRIORITY = SERVICE_PRIORITY + 1
PROBE_DST = "02:4e:57:00:00:02"
PROBE_SRC = "02:4e:57:00:00:01"
_MAGIC = b"NWLP"
_HEADER = struct.Struct("!4sQ")  # magic, token


def build_probe(token: int) -> bytes:
    """The probe frame carrying `token` (padded to Ethernet's 60-byte minimum)."""
    frame = packets.ethernet(PROBE_DST, PROBE_SRC, packets.ETH_PROBE, _HEADER.pack(_MAGIC, token))
    return frame.ljust(60, b"\0")


def parse_probe(frame: bytes) -> int | None:
    """The token of a probe frame (tagged or not), or None if `frame` is not a probe."""
    ethernet = packets.parse_ethernet(frame)
    if (
        ethernet is None
        or ethernet.ethertype != packets.ETH_PROBE
        or len(ethernet.payload) < _HEADER.size
    ):
        return None
    magic, token = _HEADER.unpack_from(ethernet.payload)
    return int(token) if magic == _MAGIC else None


@dataclass(frozen=True)
class Entry:
    """Where probes of one direction of a service are injected."""

    device_id: str
    port: int
    tags: dict[str, str]


@dataclass(frozen=True)
class ServiceProbes:
    """The probe punt rules a p2p service needs, and where to inject its probes."""

    active: bool
    punts: list[ConfigRule]
    entries: list[Entry]


def plan(repo: Repository) -> list[ServiceProbes]:
    """Probes of every p2p service that crosses switches (within one switch there is no
    delivery flow to punt from)."""
    devices = {d.id: d.name for d in repo.devices.list()}
    ports = {(e.device_id, e.number): e.name for e in repo.endpoints.list()}
    planned = []
    for service in repo.services.list():
        if service.type is not ServiceType.P2P or service.status is ServiceStatus.REMOVING:
            continue
        flows = [
            rule
            for rule in repo.rules.list(owner=owner_of(service.id))
            if rule.action is RuleAction.SET and rule.value.get("kind") == "flow"
        ]
        punts = [_punt(rule) for rule in flows if _delivers_untagged(rule.value)]
        if not punts:
            continue
        entries = [
            Entry(
                rule.device_id,
                port,
                {
                    "service": service.name,
                    "device": devices.get(rule.device_id, rule.device_id),
                    "port": ports.get((rule.device_id, port), str(port)),
                },
            )
            for rule in flows
            if (port := _entry_port(rule.value)) is not None
        ]
        planned.append(ServiceProbes(service.status is ServiceStatus.ACTIVE, punts, entries))
    return planned


def _delivers_untagged(value: JsonObject) -> bool:
    """A flow taking tagged frames of the service off a trunk and untagging them."""
    match, actions = value.get("match"), value.get("actions")
    return (
        isinstance(match, dict)
        and "vlan_vid" in match
        and isinstance(actions, list)
        and any(isinstance(a, dict) and a.get("type") == "pop_vlan" for a in actions)
    )


def _entry_port(value: JsonObject) -> int | None:
    """The edge port of a flow taking frames from a host (it matches the in port only)."""
    match = value.get("match")
    if isinstance(match, dict) and set(match) == {"in_port"}:
        port = match["in_port"]
        return port if isinstance(port, int) else None
    return None


def _punt(delivery: ConfigRule) -> ConfigRule:
    """The rule punting probes that `delivery` would take off the trunk."""
    match = delivery.value["match"]
    flow = FlowRule.model_validate(
        {
            "priority": PROBE_PRIORITY,
            "match": {**(match if isinstance(match, dict) else {}), "eth_type": packets.ETH_PROBE},
            "actions": [{"type": "output", "port": "controller"}],
        }
    )
    return config_rule(OWNER, delivery.device_id, flow)


class LatencyProbes:
    """Keeps the probe punt rules in step with the services and probes them; see the
    module docstring."""

    def __init__(
        self,
        store: Store,
        manager: DeviceManager,
        tsdb: TimeSeriesStore,
        *,
        interval: float = 1.0,
        timeout: float = 2.0,
        clock: Callable[[], int] = time.monotonic_ns,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._manager = manager
        self._tsdb = tsdb
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        self._wall_clock = wall_clock
        self._pending: dict[int, tuple[dict[str, str], int]] = {}  # token -> (tags, sent)
        self.lost = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._manager.on_packet(self.handle_packet)
        self._task = asyncio.ensure_future(every(self.interval, self.probe_once, "latency probes"))

    async def stop(self) -> None:
        await stop_task(self._task)

    async def probe_once(self) -> int:
        """Bring the punt rules in step, then probe every active service whose punt
        rules the switches hold; returns how many probes were sent."""
        self._forget_late()
        with self._store.read() as repo:
            planned = plan(repo)
            current = {rule.id: rule for rule in repo.rules.list(owner=OWNER)}
        self._write_punts(current, {rule.id: rule for p in planned for rule in p.punts})
        ready = {i for i, rule in current.items() if rule.status is RuleStatus.APPLIED}
        sent = 0
        for probes in planned:
            if probes.active and all(rule.id in ready for rule in probes.punts):
                for entry in probes.entries:
                    sent += await self._send(entry)
        return sent

    def handle_packet(self, packet: PacketIn) -> None:
        """Write the latency of a probe of ours that came back; ignore anything else."""
        token = parse_probe(packet.data)
        sent = self._pending.pop(token, None) if token is not None else None
        if sent is None:
            return
        tags, at = sent
        latency_ms = (self._clock() - at) / 1e6
        key = series_key("service.latency_ms", tags)
        self._tsdb.write(SampleBatch.of([(key, self._wall_clock(), latency_ms)]))

    async def _send(self, entry: Entry) -> int:
        driver = self._manager.driver(entry.device_id)
        if not isinstance(driver, PacketInjector):
            return 0
        token = secrets.randbits(64)
        self._pending[token] = (entry.tags, self._clock())
        try:
            await driver.inject_packet(entry.port, build_probe(token))
        except (DeviceUnreachableError, DriverError) as exc:
            del self._pending[token]
            log.debug("probe of %s not sent: %s", entry.tags["service"], exc)
            return 0
        return 1

    def _forget_late(self) -> None:
        oldest = self._clock() - int(self.timeout * 1e9)
        late = [token for token, (_, at) in self._pending.items() if at < oldest]
        for token in late:
            del self._pending[token]
        self.lost += len(late)

    def _write_punts(self, current: dict[str, ConfigRule], desired: dict[str, ConfigRule]) -> None:
        stale = [
            rule.model_copy(update={"action": RuleAction.DELETE})
            for rule_id, rule in current.items()
            if rule_id not in desired and rule.action is not RuleAction.DELETE
        ]
        new = [
            rule
            for rule_id, rule in desired.items()
            if rule_id not in current or current[rule_id].action is RuleAction.DELETE
        ]
        if stale or new:
            with self._store.transaction() as repo:
                repo.rules.put_many([*new, *stale])
