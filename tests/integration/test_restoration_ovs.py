"""Restoration on real Open vSwitch when a cable is pulled: both switches of the link
see it go down. A protected service is restored by the switches alone (the fast-failover
groups of s1 for h1's frames, of s2 cranking h2's back), with the controller's service
reconciler stopped. (`bench/restoration.py` measures the same with the controller.)"""

from __future__ import annotations

import asyncio
import re
import subprocess

import pytest
import test_services_ovs
from test_services_ovs import Ring

pytestmark = pytest.mark.integration

ring = test_services_ovs.ring  # the ring example under a controller without forwarding


async def test_fast_failover_restores_both_directions_in_the_datapath(ring: Ring) -> None:
    ring.create("h1-h2", "h1", "h2", protection="fast-reroute")
    await ring.active("h1-h2")
    assert await ring.ping("h1", "h2")
    assert ring.controller.services is not None
    await ring.controller.services.stop()
    link = next(p for p in ring.lab.plan.links if {p.a.device, p.b.device} == {"s1", "s2"})
    end = link.a if link.a.device == "s1" else link.b
    argv = ["ping", "-c", "300", "-i", "0.01", "-W", "1", "10.0.0.2"]
    pinging = asyncio.ensure_future(asyncio.to_thread(ring.lab.exec, "h1", argv, timeout=30))
    await asyncio.sleep(1.0)
    cut = ["ip", "link", "set", "dev", end.ifname, "down"]
    await asyncio.to_thread(subprocess.run, cut, check=True)
    result = await pinging
    sent, received = map(
        int, re.findall(r"(\d+) packets transmitted, (\d+) received", result.stdout)[0]
    )
    print(f"cable pulled, switches alone: {sent - received} of {sent} pings lost (10 ms apart)")
    assert sent - received <= 5
    assert await ring.ping("h1", "h2")
