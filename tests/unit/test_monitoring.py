"""Port statistics from the drivers into the time-series store (emulated network)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from netweave.assurance import EmbeddedTSDB
from netweave.controller import Backoff, DeviceManager
from netweave.controller.monitoring import StatsCollector
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.model import Device, EndpointRef, Link
from netweave.model.ids import device_id, endpoint_id, link_id
from netweave.store import Store
from netweave.testing import eventually


@pytest.fixture
async def running(store: Store) -> AsyncIterator[tuple[EmulatedNetwork, DeviceManager]]:
    network = EmulatedNetwork()
    for name in ("s1", "s2"):
        network.add_device(name, ["p1", "p2"])
    network.add_link(("s1", "p1"), ("s2", "p1"))
    with store.transaction() as repo:
        for name in ("s1", "s2"):
            repo.devices.add(Device(id=device_id(name), name=name, drivers=["emulated"]))
    manager = DeviceManager(store, {"emulated": EmulatedPlugin(network)}, backoff=Backoff(0.01))
    await manager.start()
    try:
        await eventually(lambda: len(manager.connected_devices()) == 2)
        with store.transaction() as repo:
            repo.links.add(
                Link(
                    id=link_id("l1"),
                    name="l1",
                    a=EndpointRef(device_id=device_id("s1"), endpoint_id=endpoint_id("s1", "p1")),
                    b=EndpointRef(device_id=device_id("s2"), endpoint_id=endpoint_id("s2", "p1")),
                )
            )
        yield network, manager
    finally:
        await manager.stop()


async def test_counters_land_in_the_store_tagged_by_device_port_and_link(
    store: Store, running: tuple[EmulatedNetwork, DeviceManager]
) -> None:
    network, manager = running
    for _ in range(3):
        network.transmit("s1", 1, b"x" * 100)
    tsdb = EmbeddedTSDB()
    collector = StatsCollector(store, manager, tsdb)
    assert await collector.collect_once() == 2 * 2 * 8  # devices x ports x counters
    latest = {
        (key.metric, tuple(sorted(key.tag_dict().items()))): value
        for key, _, value in tsdb.latest()
    }
    sent = (("device", "s1"), ("link", "l1"), ("port", "p1"))
    got = (("device", "s2"), ("link", "l1"), ("port", "p1"))
    assert latest[("port.tx_packets", sent)] == 3
    assert latest[("port.tx_bytes", sent)] == 300
    assert latest[("port.rx_bytes", got)] == 300
    assert latest[("port.rx_packets", (("device", "s2"), ("port", "p2")))] == 0


async def test_unreachable_device_is_skipped(
    store: Store, running: tuple[EmulatedNetwork, DeviceManager]
) -> None:
    network, manager = running
    network.set_reachable("s2", False)
    await eventually(lambda: len(manager.connected_devices()) == 1)
    collector = StatsCollector(store, manager, EmbeddedTSDB())
    assert await collector.collect_once() == 2 * 8
