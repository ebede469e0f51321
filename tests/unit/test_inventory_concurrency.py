"""Many threads writing at once, on every backend: only clean conflicts, nothing lost."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from netweave.api import create_app
from netweave.bus import InProcessBus
from netweave.inventory import (
    Conflict,
    DeviceCreate,
    EndpointCreate,
    Inventory,
    LinkCreate,
    PortRef,
)
from netweave.store import Store

THREADS = 8
RING = 10  # devices per thread, linked in a ring: 10 devices + 20 ports + 10 links
SHARED = 9  # names every thread tries to create: one wins each


def ring_and_races(inventory: Inventory, thread: int) -> Counter[str]:
    """50 writes: a private ring of devices, plus races for shared names and one port."""
    outcome: Counter[str] = Counter()

    def attempt(write: Any, *args: Any) -> None:
        try:
            write(*args)
            outcome["ok"] += 1
        except Conflict:
            outcome["conflict"] += 1

    names = [f"t{thread}-d{i}" for i in range(RING)]
    for name in names:
        attempt(inventory.create_device, DeviceCreate(name=name))
        for port in ("p1", "p2"):
            attempt(inventory.create_endpoint, name, EndpointCreate(name=port))
    for i, name in enumerate(names):
        after = names[(i + 1) % RING]
        ends = PortRef(device=name, endpoint="p2"), PortRef(device=after, endpoint="p1")
        attempt(inventory.create_link, LinkCreate(a=ends[0], b=ends[1]))
    for i in range(SHARED):
        attempt(inventory.create_device, DeviceCreate(name=f"shared-{i}"))
    hub = LinkCreate(
        name=f"hub-{thread}",
        a=PortRef(device="hub", endpoint="p"),
        b=PortRef(device=f"x{thread}", endpoint="p"),
    )
    attempt(inventory.create_link, hub)
    return outcome


def test_parallel_inventory_writes(store: Store, bus: InProcessBus) -> None:
    inventory = Inventory(store, bus)
    for name in ["hub", *(f"x{t}" for t in range(THREADS))]:
        inventory.create_device(DeviceCreate(name=name))
        inventory.create_endpoint(name, EndpointCreate(name="p"))
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(lambda t: ring_and_races(inventory, t), range(THREADS)))
    total = sum(outcomes, Counter())
    assert total["ok"] + total["conflict"] == THREADS * 50
    assert total["conflict"] == (THREADS - 1) * (SHARED + 1)
    topology = inventory.topology()
    assert len(topology.devices) == THREADS * RING + SHARED + 1 + THREADS
    assert len(topology.endpoints) == THREADS * RING * 2 + 1 + THREADS
    assert len(topology.links) == THREADS * RING + 1
    hub_links = [link for link in topology.links if link.name.startswith("hub-")]
    assert len(hub_links) == 1


def test_parallel_api_writes(store: Store, bus: InProcessBus) -> None:
    with TestClient(create_app(store, bus)) as client:

        def post_devices(thread: int) -> Counter[int]:
            statuses: Counter[int] = Counter()
            for i in range(25):
                name = f"t{thread}-{i}" if i % 2 else f"shared-{i}"
                statuses[client.post("/api/v1/devices", json={"name": name}).status_code] += 1
            return statuses

        with ThreadPoolExecutor(4) as pool:
            total = sum(pool.map(post_devices, range(4)), Counter())
        assert set(total) == {201, 409}
        assert total[201] == 4 * 12 + 13
        assert len(client.get("/api/v1/devices").json()) == 4 * 12 + 13
