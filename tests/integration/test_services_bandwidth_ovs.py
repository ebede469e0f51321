"""Multipoint services with a bandwidth on real Open vSwitch: each site of an L2VPN is
held to it by its meter, and delete leaves no flow, meter or reservation."""

from __future__ import annotations

import asyncio
import json

import pytest
import test_services_ovs
from test_services_ovs import SWITCHES, Ring

from netweave.inventory.inputs import ServiceCreate
from netweave.testing import eventually

pytestmark = pytest.mark.integration

ring = test_services_ovs.ring  # five switches in a ring; h1 on s1, h2 on s3, h3 on s4
LIMIT = 20_000_000


def meters(ring: Ring) -> dict[str, int]:
    """How many meters each switch holds."""
    return {s: ring.lab.ofctl(s, "dump-meters").count("meter=") for s in SWITCHES}


def reserved(ring: Ring) -> dict[str, int]:
    with ring.store.read() as repo:
        return {link.name: link.reserved_bps for link in repo.links.list()}


async def tcp_bps(ring: Ring, src: str, dst_ip: str, seconds: int = 3) -> float:
    """What an iperf3 TCP run from `src` to the server at `dst_ip` delivered, in bit/s."""
    argv = ["iperf3", "-c", dst_ip, "-t", str(seconds), "-J"]
    client = await asyncio.to_thread(ring.lab.exec, src, argv, timeout=30)
    assert client.returncode == 0, client.stdout[-500:]
    received: float = json.loads(client.stdout)["end"]["sum_received"]["bits_per_second"]
    return received


async def test_l2vpn_sites_are_held_to_the_bandwidth_and_delete_leaves_nothing(
    ring: Ring,
) -> None:
    ends = [{"device": host, "endpoint": "eth0"} for host in ("h1", "h2", "h3")]
    spec = {"name": "lan", "type": "l2vpn", "endpoints": ends}
    ring.inventory.create_service(
        ServiceCreate.model_validate(spec | {"constraints": {"bandwidth_bps": LIMIT}})
    )
    await ring.active("lan")
    assert meters(ring) == {"s1": 1, "s2": 0, "s3": 1, "s4": 1, "s5": 0}  # one per site
    # each link of the tree has one site on one side and two on the other, which may
    # both send across it: it reserves 2 x the bandwidth (the capacities are far above)
    assert set(reserved(ring).values()) == {0, 2 * LIMIT}
    assert await ring.ping("h1", "h2") and await ring.ping("h3", "h2")
    server = ring.lab.exec("h3", ["iperf3", "-s", "-D", "-1"])
    assert server.returncode == 0, server.stderr
    await asyncio.sleep(0.3)
    received = await tcp_bps(ring, "h1", "10.0.0.3")
    print(f"l2vpn site metered at {LIMIT / 1e6:.0f} Mbit/s: iperf3 TCP {received / 1e6:.1f} Mbit/s")
    assert 0.3 * LIMIT < received <= 1.1 * LIMIT
    ring.inventory.delete_service("lan")
    await eventually(lambda: ring.status("lan") is None, within=10)
    assert ring.service_flows() == dict.fromkeys(SWITCHES, 0)
    assert meters(ring) == dict.fromkeys(SWITCHES, 0)
    assert set(reserved(ring).values()) == {0}
