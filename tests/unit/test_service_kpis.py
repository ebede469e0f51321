"""Service throughput from the counters of a service's edge flows (emulated switches)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from netweave.assurance import EmbeddedTSDB, Query
from netweave.bus import InProcessBus
from netweave.controller import Backoff, DeviceManager
from netweave.controller.service_kpis import ServiceThroughput
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin, EmulationError
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate
from netweave.model import ServiceStatus
from netweave.model.ids import device_id, service_id
from netweave.services import ServiceReconciler, owner_of
from netweave.store import Store
from netweave.testing import eventually

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
    network = EmulatedNetwork.from_descriptor(descriptor)
    manager = DeviceManager(store, {"emulated": EmulatedPlugin(network)}, backoff=Backoff(0.01))
    reconciler = ServiceReconciler(store)
    await manager.start()
    await reconciler.start()
    try:
        ends = [{"device": h, "endpoint": "eth0"} for h in ("h1", "h2")]
        spec = {"name": "h1-h2", "endpoints": ends}
        inventory.create_service(ServiceCreate.model_validate(spec))

        def active() -> bool:
            with store.read() as repo:
                return repo.services.get(service_id("h1-h2")).status is ServiceStatus.ACTIVE

        await eventually(active)
        yield Net(store, network, manager)
    finally:
        await reconciler.stop()
        await manager.stop()


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
