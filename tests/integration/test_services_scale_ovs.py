"""200 point-to-point services on the 12-switch mesh (examples/mesh.yaml) on real Open
vSwitch: all become active, each switch's service flows are exactly the stored rules,
and the services with hosts pass traffic without leaking into each other, even with the
same addresses on both (h3 is 10.0.0.1 like h1, h4 10.0.0.2 like h2).

Hosts are namespaces, so most services join switch ports instead: numbered edge ports
declared on every switch (no veth behind them; Open vSwitch takes flows on them all the
same), between switches across the mesh."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.drivers.openflow.rules import cookie_for
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate
from netweave.lab import Lab
from netweave.model import ServiceStatus, TopologyDescriptor
from netweave.model.ids import device_id
from netweave.services import SERVICE_PRIORITY, service_of
from netweave.store import Store
from netweave.testing import eventually, lab_under

pytestmark = pytest.mark.integration

MESH = Path(__file__).parents[2] / "examples" / "mesh.yaml"
SERVICES = 200
HOST_PAIRS = (("h1", "h2"), ("h3", "h4"), ("h5", "h6"))
SAME_ADDRESSES = {"h3": "10.0.0.1/24", "h4": "10.0.0.2/24"}
FIRST_EDGE_PORT = 100
LabFactory = Callable[..., Lab]


def edge_pairs(switches: list[str], count: int) -> list[tuple[str, str]]:
    """`count` pairs of distinct switches spread over the mesh, deterministically."""
    pairs = []
    for index in range(count):
        a = switches[index % len(switches)]
        b = switches[(index * 7 + 5) % len(switches)]
        if a == b:
            b = switches[(index + len(switches) // 2) % len(switches)]
        pairs.append((a, b))
    return pairs


def scale_lab() -> tuple[TopologyDescriptor, list[ServiceCreate]]:
    """The mesh with edge ports for the switch services, and all the services."""
    data = load_descriptor(MESH.read_text(), str(MESH))[0].model_dump(
        mode="json", exclude_none=True
    )
    switches = [d["name"] for d in data["devices"] if d["type"] == "switch"]
    pairs = edge_pairs(switches, SERVICES - len(HOST_PAIRS))
    used: Counter[str] = Counter()
    specs = [
        ServiceCreate.model_validate(
            {"name": f"{a}-{b}", "endpoints": [{"device": h, "endpoint": "eth0"} for h in (a, b)]}
        )
        for a, b in HOST_PAIRS
    ]
    for index, pair in enumerate(pairs):
        ends = []
        for switch in pair:
            used[switch] += 1
            ends.append({"device": switch, "endpoint": f"edge{used[switch]}"})
        specs.append(ServiceCreate.model_validate({"name": f"edge-{index}", "endpoints": ends}))
    for device in data["devices"]:
        if device["name"] in used:
            device["ports"] += [
                {"name": f"edge{n}", "number": FIRST_EDGE_PORT + n}
                for n in range(1, used[device["name"]] + 1)
            ]
        device["ip"] = SAME_ADDRESSES.get(device["name"], device.get("ip"))
    return TopologyDescriptor.model_validate(data), specs


def service_cookies(lab: Lab, switch: str) -> set[int]:
    """The cookies of the service flows on `switch`."""
    flows = lab.ofctl(switch, "dump-flows").splitlines()
    return {
        int(match.group(1), 16)
        for line in flows
        if f"priority={SERVICE_PRIORITY}" in line
        and (match := re.search(r"cookie=(0x[0-9a-f]+)", line))
    }


async def ping(lab: Lab, src: str, ip: str, count: int = 3) -> bool:
    argv = ["ping", "-c", str(count), "-i", "0.2", "-W", "1", ip]
    result = await asyncio.to_thread(lab.exec, src, argv)
    return result.returncode == 0


async def test_200_services_are_active_exact_and_isolated(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    descriptor, specs = scale_lab()
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    controller = Controller(store, ControllerSettings(openflow_port=0, forwarding=False))
    try:
        async with lab_under(controller, descriptor, lab_factory, within=30) as lab:
            switches = [d.name for d in descriptor.devices if d.type == "switch"]
            started = time.perf_counter()
            for spec in specs:
                inventory.create_service(spec)
            created = time.perf_counter()

            def active() -> int:
                return sum(s.status is ServiceStatus.ACTIVE for s in inventory.list_services())

            await eventually(lambda: active() == SERVICES, within=60)
            print(
                f"{SERVICES} services on {len(switches)} switches: created in"
                f" {created - started:.2f} s,"
                f" all active after {time.perf_counter() - started:.2f} s"
            )
            with store.read() as repo:
                rules = [r for r in repo.rules.list() if service_of(r.owner) and "/flow/" in r.key]
            for switch in switches:
                wanted = {cookie_for(r.key) for r in rules if r.device_id == device_id(switch)}
                assert service_cookies(lab, switch) == wanted, switch

            assert await ping(lab, "h1", "10.0.0.2") and await ping(lab, "h3", "10.0.0.2")
            for host, peer_mac in (("h1", "00:00:00:00:00:02"), ("h3", "00:00:00:00:00:04")):
                neighbours = lab.exec(host, ["ip", "neigh", "show", "10.0.0.2"]).stdout
                assert peer_mac in neighbours, f"{host} reached {neighbours!r}"
            assert await ping(lab, "h5", "10.0.0.6")
            assert not await ping(lab, "h1", "10.0.0.6", count=2)  # h6 is in another service
    finally:
        store.close()
