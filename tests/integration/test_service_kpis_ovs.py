"""Service KPIs on real Open vSwitch: the throughput the controller reads from a p2p
service's edge flows matches what iperf3 measured through it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from netweave.assurance import EmbeddedTSDB, Query
from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate
from netweave.lab import Lab
from netweave.model import ServiceStatus
from netweave.model.ids import service_id
from netweave.store import Store
from netweave.testing import eventually, lab_under

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "examples"
LabFactory = Callable[..., Lab]
SECOND = 1_000_000_000


@dataclass
class Running:
    store: Store
    controller: Controller
    tsdb: EmbeddedTSDB
    lab: Lab


@pytest.fixture
async def h1_h2(lab_factory: LabFactory, tmp_path: Path) -> AsyncIterator[Running]:
    """The ring lab under a controller with a time-series store, and an active p2p
    service h1-h2 (h1 on s1, h2 on s3)."""
    path = EXAMPLES / "ring.yaml"
    descriptor = load_descriptor(path.read_text(), str(path))[0]
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    tsdb = EmbeddedTSDB()
    settings = ControllerSettings(openflow_port=0, discovery_interval_s=0.2)
    controller = Controller(store, settings, tsdb=tsdb)
    try:
        async with lab_under(controller, descriptor, lab_factory) as lab:
            ends = [{"device": h, "endpoint": "eth0"} for h in ("h1", "h2")]
            spec = {"name": "h1-h2", "endpoints": ends}
            inventory.create_service(ServiceCreate.model_validate(spec))

            def active() -> bool:
                with store.read() as repo:
                    return repo.services.get(service_id("h1-h2")).status is ServiceStatus.ACTIVE

            await eventually(active, within=20)
            yield Running(store, controller, tsdb, lab)
    finally:
        store.close()


def service_rate(tsdb: EmbeddedTSDB, metric: str, device: str, start: int, end: int) -> float:
    """Bytes per second of the h1-h2 series `metric` at `device`'s edge in [start, end)."""
    query = Query(
        metric=metric,
        start_ns=start,
        end_ns=end,
        step_ns=end - start,
        aggregation="rate",
        match=[{"key": "service", "value": "h1-h2"}, {"key": "device", "value": device}],
        group_by=["service"],
    )
    [series] = tsdb.query(query).series
    return series.values[0]


async def test_service_throughput_matches_iperf3(h1_h2: Running) -> None:
    lab, tsdb = h1_h2.lab, h1_h2.tsdb
    server = lab.exec("h2", ["iperf3", "-s", "-D", "-1"])
    assert server.returncode == 0, server.stderr
    await asyncio.sleep(0.3)
    started = time.time_ns()
    argv = ["iperf3", "-c", "10.0.0.2", "-t", "6", "-J"]
    client = await asyncio.to_thread(lab.exec, "h1", argv, timeout=40)
    assert client.returncode == 0, client.stdout[-500:]
    await asyncio.sleep(1.5)  # a round after the end
    iperf_bps = json.loads(client.stdout)["end"]["sum_received"]["bits_per_second"]
    window = (started + 1 * SECOND, started + 6 * SECOND)  # past TCP's slow start
    taken_in = 8 * service_rate(tsdb, "service.rx_bytes", "s1", *window)
    delivered = 8 * service_rate(tsdb, "service.tx_bytes", "s3", *window)
    print(
        f"iperf3 h1->h2 {iperf_bps / 1e6:.0f} Mbit/s; service h1-h2 from its flow counters: "
        f"{taken_in / 1e6:.0f} Mbit/s in at s1, {delivered / 1e6:.0f} Mbit/s out at s3"
    )
    assert taken_in == pytest.approx(iperf_bps, rel=0.2)
    assert delivered == pytest.approx(iperf_bps, rel=0.2)


async def test_latency_probes_cross_the_service_both_ways(h1_h2: Running) -> None:
    def latencies() -> dict[str, float]:
        return {
            key.tag_dict()["device"]: value
            for key, _, value in h1_h2.tsdb.latest()
            if key.metric == "service.latency_ms" and key.tag_dict()["service"] == "h1-h2"
        }

    await eventually(lambda: len(latencies()) == 2, within=10)
    probes = h1_h2.controller.probes
    assert probes is not None
    found = latencies()
    argv = ["ping", "-c", "5", "-i", "0.2", "-W", "1", "10.0.0.2"]  # the hosts still talk
    ping = await asyncio.to_thread(h1_h2.lab.exec, "h1", argv)
    assert ping.returncode == 0
    print(
        "probe latency (controller -> switch -> path -> switch -> controller): "
        + ", ".join(f"from {d} {ms:.2f} ms" for d, ms in sorted(found.items()))
        + f"; lost {probes.lost}; ping h1 -> h2 (round trip): {ping.stdout.splitlines()[-1]}"
    )
    assert set(found) == {"s1", "s3"}
    assert all(0 < ms < 100 for ms in found.values())
