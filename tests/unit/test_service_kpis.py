"""Service KPIs on emulated switches: throughput from the counters of a service's edge
flows; latency probes (punt rules kept in step, probes injected, their round trip
written)."""

from __future__ import annotations

import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from netweave.assurance import EmbeddedTSDB, Query
from netweave.bus import InProcessBus
from netweave.controller import DeviceManager
from netweave.controller.packets import ETH_PROBE
from netweave.controller.probes import OWNER as PROBES_OWNER
from netweave.controller.probes import PROBE_PRIORITY, LatencyProbes, build_probe
from netweave.controller.service_kpis import ServiceThroughput
from netweave.drivers import PacketIn
from netweave.drivers.emulated import (
    EmulatedDriver,
    EmulatedNetwork,
    EmulationError,
)
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import LinkUpdate, ServiceCreate, ServiceUpdate
from netweave.model import ConfigRule, RuleStatus, ServiceStatus
from netweave.model.ids import device_id, service_id
from netweave.services import owner_of
from netweave.store import Store
from netweave.testing import emulated_services, eventually

# h1 - s1:eth2, s1:eth1 - s2:eth1, s2:eth2 - h2
LINE = """
name: line
devices:
- {name: s1, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2}]}
- {name: s2, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2}]}
- {name: h1, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:01'}
- {name: h2, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:02'}
links:
- {a: {device: s1, port: eth1}, b: {device: s2, port: eth1}}
- {a: {device: h1, port: eth0}, b: {device: s1, port: eth2}}
- {a: {device: h2, port: eth0}, b: {device: s2, port: eth2}}
"""
SECOND = 1_000_000_000


@dataclass
class Net:
    store: Store
    inventory: Inventory
    network: EmulatedNetwork
    manager: DeviceManager

    def flow(self, switch: str, text: str) -> str:
        """The key of the service flow on `switch` whose key contains `text`."""
        with self.store.read() as repo:
            rules = repo.rules.list(owner=owner_of(service_id("h1-h2")))
        [key] = [r.key for r in rules if r.device_id == device_id(switch) and text in r.key]
        return key


@pytest.fixture
async def net(store: Store) -> AsyncIterator[Net]:
    descriptor, _ = load_descriptor(LINE, "line.yaml")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    async with emulated_services(store, descriptor) as run:
        ends = [{"device": h, "endpoint": "eth0"} for h in ("h1", "h2")]
        spec = {"name": "h1-h2", "endpoints": ends}
        inventory.create_service(ServiceCreate.model_validate(spec))

        def active() -> bool:
            with store.read() as repo:
                return repo.services.get(service_id("h1-h2")).status is ServiceStatus.ACTIVE

        await eventually(active)
        yield Net(store, inventory, run.network, run.manager)


def latest(tsdb: EmbeddedTSDB) -> dict[tuple[str, str, str], float]:
    """(metric, device, port) -> latest value of the h1-h2 service series."""
    found = {}
    for key, _, value in tsdb.latest():
        tags = key.tag_dict()
        assert tags["service"] == "h1-h2"
        found[(key.metric, tags["device"], tags["port"])] = value
    return found


async def test_edge_flow_counters_become_service_rx_and_tx(net: Net) -> None:
    entry = net.flow("s1", "match=in_port=2")  # from h1, tagged for s2
    delivered = net.flow("s2", "match=in_port=1,vlan_vid")  # untagged out to h2
    net.network.count_flow("s1", entry, 10, 15_000)
    net.network.count_flow("s2", delivered, 9, 13_500)
    net.network.count_flow("s1", net.flow("s1", "match=in_port=1,vlan_vid"), 1, 99)  # transit
    tsdb = EmbeddedTSDB()
    collector = ServiceThroughput(net.store, net.manager, tsdb)
    assert await collector.collect_once() == 2 * 2 * 2  # edges x directions x units
    assert latest(tsdb) == {
        ("service.rx_bytes", "s1", "eth2"): 15_000,
        ("service.rx_packets", "s1", "eth2"): 10,
        ("service.tx_bytes", "s1", "eth2"): 99,
        ("service.tx_packets", "s1", "eth2"): 1,
        ("service.rx_bytes", "s2", "eth2"): 0,
        ("service.rx_packets", "s2", "eth2"): 0,
        ("service.tx_bytes", "s2", "eth2"): 13_500,
        ("service.tx_packets", "s2", "eth2"): 9,
    }


async def test_rate_of_rx_bytes_is_the_service_throughput(net: Net) -> None:
    start = time.time_ns() // SECOND * SECOND
    now = [start]
    tsdb = EmbeddedTSDB()
    collector = ServiceThroughput(net.store, net.manager, tsdb, clock=lambda: now[0])
    entry = net.flow("s1", "match=in_port=2")
    for _ in range(5):
        await collector.collect_once()
        net.network.count_flow("s1", entry, 100, 1_250_000)  # 10 Mbit per second
        now[0] += SECOND
    query = Query(
        metric="service.rx_bytes",
        start_ns=start,
        end_ns=start + 5 * SECOND,
        step_ns=5 * SECOND,
        aggregation="rate",
        match=[{"key": "service", "value": "h1-h2"}],
        group_by=["service"],
    )
    [series] = tsdb.query(query).series
    assert series.values == [pytest.approx(1_250_000)]


async def test_an_unreachable_edge_switch_is_skipped(net: Net) -> None:
    net.network.set_reachable("s2", False)
    await eventually(lambda: len(net.manager.connected_devices()) == 1)
    tsdb = EmbeddedTSDB()
    assert await ServiceThroughput(net.store, net.manager, tsdb).collect_once() == 2 * 2
    assert {device for _, device, _ in latest(tsdb)} == {"s1"}


async def test_counting_a_rule_the_switch_lacks_is_refused(net: Net) -> None:
    with pytest.raises(EmulationError, match="holds no rule '/flow/nope'"):
        net.network.count_flow("s1", "/flow/nope", 1, 1)


# -- latency probes ------------------------------------------------------------------------
def tagged(frame: bytes, vlan: int) -> bytes:
    return frame[:12] + struct.pack("!HH", 0x8100, vlan) + frame[12:]


def probe_rules(store: Store) -> list[ConfigRule]:
    with store.read() as repo:
        return repo.rules.list(owner=PROBES_OWNER)


async def test_probes_punt_at_the_far_end_and_their_round_trip_is_written(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    injected: list[tuple[str, int, bytes]] = []

    async def inject(driver: EmulatedDriver, in_port: int, data: bytes) -> None:
        injected.append((driver.device.name, in_port, data))

    monkeypatch.setattr(EmulatedDriver, "inject_packet", inject, raising=False)
    now = [0]
    tsdb = EmbeddedTSDB()
    probes = LatencyProbes(net.store, net.manager, tsdb, clock=lambda: now[0])
    assert await probes.probe_once() == 0  # punt rules written, not on the switches yet
    await eventually(lambda: [r.status for r in probe_rules(net.store)] == [RuleStatus.APPLIED] * 2)
    with net.store.read() as repo:
        [connection] = repo.connections.list(scope=service_id("h1-h2"))
    vlan = connection.vlan_id
    assert vlan is not None
    match = {"in_port": 1, "eth_type": ETH_PROBE, "vlan_vid": vlan}
    punt = {"type": "output", "port": "controller"}
    for switch in ("s1", "s2"):
        [value] = [v for k, v in net.network.rules(switch).items() if "eth_type" in k]
        assert (value["priority"], value["match"], value["actions"]) == (
            PROBE_PRIORITY,
            match,
            [punt],
        )

    assert await probes.probe_once() == 2
    assert sorted((device, port) for device, port, _ in injected) == [("s1", 2), ("s2", 2)]
    [from_h1] = [frame for device, _, frame in injected if device == "s1"]
    now[0] += 3_000_000
    back = PacketIn(device_id=device_id("s2"), in_port=1, data=tagged(from_h1, vlan))
    probes.handle_packet(back)
    probes.handle_packet(back)  # a copy, or a replay by a host: already answered
    forged = PacketIn(device_id=device_id("s2"), in_port=1, data=tagged(build_probe(7), vlan))
    probes.handle_packet(forged)
    [(key, _, latency)] = tsdb.latest()
    assert key.metric == "service.latency_ms"
    assert key.tag_dict() == {"service": "h1-h2", "device": "s1", "port": "eth2"}
    assert latency == pytest.approx(3.0)

    now[0] += 3_000_000_000  # the probe from h2's side never came back
    await probes.probe_once()
    assert probes.lost == 1


async def test_a_deleted_service_loses_its_probe_punts(net: Net) -> None:
    probes = LatencyProbes(net.store, net.manager, EmbeddedTSDB())
    await probes.probe_once()
    assert len(probe_rules(net.store)) == 2
    net.inventory.delete_service("h1-h2")

    def gone() -> bool:
        with net.store.read() as repo:
            return repo.services.find(service_id("h1-h2")) is None

    await eventually(gone)
    await probes.probe_once()
    await eventually(lambda: not probe_rules(net.store))
    assert not any("eth_type" in key for s in ("s1", "s2") for key in net.network.rules(s))


async def test_a_metered_service_reports_what_reached_its_meters(net: Net) -> None:
    for link in net.inventory.list_links():  # the line has no capacities: give it some
        net.inventory.update_link(link.id, LinkUpdate(capacity_bps=1_000_000_000))
    limit = {"constraints": {"bandwidth_bps": 10_000_000}}
    net.inventory.update_service("h1-h2", ServiceUpdate.model_validate(limit))

    def metered() -> bool:
        values = net.network.rules("s1").values()
        return any(v.get("kind") == "meter" for v in values) and any(
            v.get("meter_id") for v in values if v.get("kind") == "flow"
        )

    await eventually(metered)
    entry = net.flow("s1", "match=in_port=2")  # from h1: the metered ingress flow
    await eventually(lambda: "meter_id" in net.network.rules("s1")[entry])
    net.network.count_flow("s1", entry, 10, 15_000)
    tsdb = EmbeddedTSDB()
    await ServiceThroughput(net.store, net.manager, tsdb).collect_once()
    meters = {
        (key.metric, key.tag_dict()["device"]): value
        for key, _, value in tsdb.latest()
        if key.metric.startswith("service.meter_")
    }
    assert meters[("service.meter_in_bytes", "s1")] == 15_000
    assert meters[("service.meter_in_packets", "s1")] == 10
    assert meters[("service.meter_dropped_packets", "s1")] == 0
    assert ("service.meter_in_bytes", "s2") in meters  # the other direction's meter
