"""Service throughput: the counters of the flows where traffic enters and leaves each
service, into the time-series store, every `interval` seconds.

A service's *edge* ports are the switch ports at both ends of its connections. At an edge
port, the service's flows that match that in port (and no VLAN: frames from the host,
not from a trunk) count what the service took in there, and those that output to it
count what it delivered there. Per edge port, each round writes

* ``service.rx_bytes`` / ``service.rx_packets``: taken in from that port,
* ``service.tx_bytes`` / ``service.tx_packets``: delivered out of that port,

tagged ``service`` (its name), ``device`` and ``port`` (the edge switch port's names).
A service's throughput is a ``rate`` query over ``service.rx_bytes`` with
``service=<name>``; rx at one end minus tx at the other is what the service lost.
Counters come from drivers that are a `FlowStatisticsSource`, keyed like the rules (an
OpenFlow flow's cookie is its key's).

A service with a bandwidth has a meter per direction; from drivers that are a
`MeterStatisticsSource` each round also writes ``service.meter_in_bytes`` /
``_packets`` (what reached the meter) and ``service.meter_dropped_bytes`` / ``_packets``
(what its band dropped: traffic above the service's bandwidth), tagged ``service``,
``device`` and ``meter``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from netweave.assurance import SampleBatch, SeriesKey, series_key
from netweave.controller.collector import Collector
from netweave.drivers import DeviceUnreachableError, DriverError
from netweave.drivers.contract import FlowStatisticsSource, MeterStatisticsSource
from netweave.model import ConfigRule, JsonObject, RuleAction
from netweave.services import owner_of
from netweave.store import Repository

log = logging.getLogger(__name__)

DIRECTIONS = ("rx", "tx")


@dataclass(frozen=True)
class EdgeFlows:
    """The flows counting one service's traffic at one edge port, per direction."""

    tags: dict[str, str]
    device_id: str
    rx: frozenset[str]  # rule keys
    tx: frozenset[str]


def edge_flows(repo: Repository) -> list[EdgeFlows]:
    """The counting flows of every service at each of its edge ports."""
    devices = {d.id: d.name for d in repo.devices.list()}
    found: list[EdgeFlows] = []
    for service in repo.services.list():
        edges = {
            endpoint_id
            for connection in repo.connections.list(scope=service.id)
            if connection.hops
            for endpoint_id in (
                connection.hops[0].ingress_endpoint_id,
                connection.hops[-1].egress_endpoint_id,
            )
        }
        flows = [
            rule
            for rule in repo.rules.list(owner=owner_of(service.id))
            if rule.action is RuleAction.SET and rule.value.get("kind") == "flow"
        ]
        for endpoint_id in sorted(edges):
            port = repo.endpoints.find(endpoint_id)
            if port is None or port.number is None:
                continue
            here = [rule for rule in flows if rule.device_id == port.device_id]
            found.append(
                EdgeFlows(
                    tags={
                        "service": service.name,
                        "device": devices.get(port.device_id, port.device_id),
                        "port": port.name,
                    },
                    device_id=port.device_id,
                    rx=_keys(here, _takes_in, port.number),
                    tx=_keys(here, _delivers, port.number),
                )
            )
    return found


@dataclass(frozen=True)
class ServiceMeter:
    """One meter of one service, on one device."""

    tags: dict[str, str]
    device_id: str
    meter_id: int


def service_meters(repo: Repository) -> list[ServiceMeter]:
    """The meters the services' rules install."""
    devices = {d.id: d.name for d in repo.devices.list()}
    return [
        ServiceMeter(
            tags={
                "service": service.name,
                "device": devices.get(rule.device_id, rule.device_id),
                "meter": str(rule.value["meter_id"]),
            },
            device_id=rule.device_id,
            meter_id=int(rule.value["meter_id"]),
        )
        for service in repo.services.list()
        for rule in repo.rules.list(owner=owner_of(service.id))
        if rule.action is RuleAction.SET and rule.value.get("kind") == "meter"
    ]


METER_SERIES = (
    ("meter_in_bytes", "bytes_in"),
    ("meter_in_packets", "packets_in"),
    ("meter_dropped_bytes", "dropped_bytes"),
    ("meter_dropped_packets", "dropped_packets"),
)


def _keys(
    rules: Iterable[ConfigRule], test: Callable[[JsonObject, int], bool], port: int
) -> frozenset[str]:
    return frozenset(rule.key for rule in rules if test(rule.value, port))


def _takes_in(value: JsonObject, port: int) -> bool:
    match = value.get("match")
    return isinstance(match, dict) and match.get("in_port") == port and "vlan_vid" not in match


def _delivers(value: JsonObject, port: int) -> bool:
    actions = value.get("actions")
    return isinstance(actions, list) and any(
        isinstance(a, dict) and a.get("type") == "output" and a.get("port") == port for a in actions
    )


class ServiceThroughput(Collector):
    """Polls the flow counters of the services' edge switches; see the module docstring."""

    round_name = "service throughput round"

    async def collect_once(self) -> int:
        """One round over every service; returns how many samples were written."""
        with self._store.read() as repo:
            edges = edge_flows(repo)
            meters = service_meters(repo)
        counters = {
            device_id: await self._flow_counters(device_id)
            for device_id in {edge.device_id for edge in edges}
        }
        samples: list[tuple[SeriesKey, int, float]] = []
        for edge in edges:
            flows = counters[edge.device_id]
            if flows is None:
                continue
            now = self._clock()
            for direction, keys in zip(DIRECTIONS, (edge.rx, edge.tx), strict=True):
                counted = [flows[key] for key in keys if key in flows]
                for unit, index in (("bytes", 1), ("packets", 0)):
                    total = float(sum(pair[index] for pair in counted))
                    samples.append(
                        (series_key(f"service.{direction}_{unit}", edge.tags), now, total)
                    )
        samples += await self._meter_samples(meters)
        if samples:
            self._tsdb.write(SampleBatch.of(samples))
        return len(samples)

    async def _meter_samples(
        self, meters: list[ServiceMeter]
    ) -> list[tuple[SeriesKey, int, float]]:
        samples: list[tuple[SeriesKey, int, float]] = []
        for device_id in sorted({m.device_id for m in meters}):
            driver = self._manager.driver(device_id)
            if not isinstance(driver, MeterStatisticsSource):
                continue
            try:
                counted = {m.meter_id: m for m in await driver.meter_stats()}
            except (DeviceUnreachableError, DriverError) as exc:
                log.debug("no meter statistics from %s: %s", device_id, exc)
                continue
            now = self._clock()
            for meter in meters:
                stats = counted.get(meter.meter_id)
                if meter.device_id != device_id or stats is None:
                    continue
                samples += [
                    (series_key(f"service.{name}", meter.tags), now, float(getattr(stats, field)))
                    for name, field in METER_SERIES
                ]
        return samples

    async def _flow_counters(self, device_id: str) -> dict[str, tuple[int, int]] | None:
        """(packets, bytes) of each counted rule of the device, by key; None if the device
        cannot say now."""
        driver = self._manager.driver(device_id)
        if not isinstance(driver, FlowStatisticsSource) or not driver.capabilities.statistics:
            return None
        try:
            stats = await driver.flow_stats()
        except (DeviceUnreachableError, DriverError) as exc:
            log.debug("no flow statistics from %s: %s", device_id, exc)
            return None
        return {flow.key: (flow.packets, flow.bytes) for flow in stats}
