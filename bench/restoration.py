"""Restoration after a link failure, with real traffic on real Open vSwitch (needs root).

Run: ``sudo python -m bench.restoration [--quick]``.

The ring example (s1..s5, h1 on s1, h2 on s3) under the netweave controller (no default
forwarding). A p2p service h1-h2 runs over s1-s2-s3; h1 pings h2 every 2 ms and 0.5 s
in, the s1-s2 link is cut (s1's veth set down: both switches see LINK_DOWN, as for a
pulled cable). Restoration time is the longest run of consecutive pings without a reply
times the interval (the pings sent into the outage); loss is all pings without a reply.
Each round uses a fresh service; the link comes back up between rounds.

- no failure: the same run without the cut (the measurement's floor: nothing lost);
- unprotected: the controller sees the port down and reroutes the service over
  s1-s5-s4-s3 (make-before-break); the baseline of the protected case;
- protected (``fast-reroute``): the fast-failover groups of s1 and s2 switch to the
  backup path in the datapath; the controller recomputes afterwards.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import parser, report
from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate
from netweave.lab import Lab
from netweave.model import OperStatus, ServiceStatus
from netweave.model.ids import link_id, service_id
from netweave.store import Store
from netweave.testing import lab_under, throwaway_labs

RING = Path(__file__).parents[1] / "examples" / "ring.yaml"
INTERVAL_S = 0.002
PINGS = 1000  # 2 s at 2 ms
CUT_AFTER_S = 0.5
CUT = "s1:eth1--s2:eth1"
REPLY = re.compile(r"icmp_seq=(\d+)")


@dataclass(frozen=True)
class Outage:
    lost: int
    restoration_ms: float  # the longest run of pings without a reply, times the interval


@dataclass
class Ring:
    store: Store
    inventory: Inventory
    lab: Lab
    ping_seconds: list[float] = field(default_factory=list)  # how long each run took

    def status(self, name: str) -> ServiceStatus | None:
        services = {s.name: s.status for s in self.inventory.list_services()}
        return services.get(name)

    def crosses_cut(self, name: str) -> bool:
        with self.store.read() as repo:
            connections = repo.connections.list(scope=service_id(name))
        return any(link_id(CUT) in c.link_ids for c in connections)

    def link_status(self) -> OperStatus:
        return self.inventory.get_link(link_id(CUT)).status

    def set_cut(self, down: bool) -> None:
        """Set s1's end of the s1-s2 veth pair down (or up again)."""
        link = next(p for p in self.lab.plan.links if {p.a.device, p.b.device} == {"s1", "s2"})
        end = link.a if link.a.device == "s1" else link.b
        state = "down" if down else "up"
        subprocess.run(["ip", "link", "set", "dev", end.ifname, state], check=True)


async def until(check: Callable[[], bool], within: float = 20.0) -> None:
    for _ in range(int(within / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"not within {within} s")


@asynccontextmanager
async def ring_lab() -> AsyncIterator[Ring]:
    descriptor = load_descriptor(RING.read_text(), str(RING))[0]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'nw.db'}")
        inventory = Inventory(store, InProcessBus())
        inventory.import_topology(descriptor)
        settings = ControllerSettings(openflow_port=0, forwarding=False, discovery_interval_s=0.2)
        try:
            with throwaway_labs(Path(tmp)) as build:
                async with lab_under(Controller(store, settings), descriptor, build) as lab:
                    yield Ring(store, inventory, lab)
        finally:
            store.close()


def outage(output: str, seconds: float) -> Outage:
    """Loss and restoration time of a ping run's output; the run took `seconds` (ping
    keeps its pace only on average, so the interval is measured)."""
    answered = {int(seq) for seq in REPLY.findall(output)}
    if not answered:
        raise RuntimeError(f"ping got no reply:\n{output[-500:]}")
    longest = run = 0
    for seq in range(1, PINGS + 1):
        run = 0 if seq in answered else run + 1
        longest = max(longest, run)
    return Outage(lost=PINGS - len(answered), restoration_ms=longest * seconds / PINGS * 1000)


async def round_(ring: Ring, name: str, protection: str | None, cut: bool) -> Outage:
    """One measured run: a fresh service, pings, the cut (if `cut`; then the port is put
    back up), the service gone."""
    constraints = {"protection": protection} if protection else {}
    ends = [{"device": host, "endpoint": "eth0"} for host in ("h1", "h2")]
    spec = {"name": name, "endpoints": ends, "constraints": constraints}
    ring.inventory.create_service(ServiceCreate.model_validate(spec))
    await until(lambda: ring.status(name) is ServiceStatus.ACTIVE)
    warm = await asyncio.to_thread(
        ring.lab.exec, "h1", ["ping", "-c", "2", "-i", "0.2", "10.0.0.2"]
    )
    assert warm.returncode == 0, warm.stdout
    argv = ["ping", "-c", str(PINGS), "-i", str(INTERVAL_S), "-W", "1", "10.0.0.2"]
    started = time.perf_counter()
    pinging = asyncio.ensure_future(asyncio.to_thread(ring.lab.exec, "h1", argv, timeout=30))
    if cut:
        assert ring.crosses_cut(name), "the service does not run over s1-s2"
        await asyncio.sleep(CUT_AFTER_S)
        ring.set_cut(down=True)
    result = await pinging
    seconds = time.perf_counter() - started
    ring.ping_seconds.append(seconds)
    measured = outage(result.stdout, seconds)
    if cut:
        await until(lambda: not ring.crosses_cut(name))  # rerouted by the controller
        ring.set_cut(down=False)
        await until(lambda: ring.link_status() is OperStatus.UP)
    ring.inventory.delete_service(name)
    await until(lambda: ring.status(name) is None)
    return measured


async def main() -> None:
    args = parser(__doc__ or "").parse_args()
    rounds = 2 if args.quick else 5
    print(
        f"ring of 5 OVS switches, h1 pings h2 every {INTERVAL_S * 1000:.0f} ms, {PINGS} pings;"
        f" s1-s2 cut {CUT_AFTER_S} s in; {rounds} rounds each, medians"
    )
    results: dict[str, list[Outage]] = {"nofail": [], "unprotected": [], "protected": []}
    async with ring_lab() as ring:
        for index in range(rounds):
            for kind in results:
                protection = "fast-reroute" if kind == "protected" else None
                cut = kind != "nofail"
                results[kind].append(await round_(ring, f"{kind}-{index}", protection, cut))
        seconds = statistics.median(ring.ping_seconds)
    print(
        f"a run of {PINGS} pings took {seconds:.2f} s (median; {PINGS * INTERVAL_S:.1f} s planned)"
    )
    medians = {
        kind: statistics.median(o.restoration_ms for o in found) for kind, found in results.items()
    }
    for kind, found in results.items():
        lost = ", ".join(str(o.lost) for o in found)
        print(f"{kind}: pings lost per round: {lost} (of {PINGS})")
    report("restoration, no failure (floor)", medians["nofail"], "ms")
    baseline = report("restoration, unprotected (controller reroute)", medians["unprotected"], "ms")
    protected = report(
        "restoration, protected (fast failover)", medians["protected"], "ms", baseline
    )
    worst = max(o.restoration_ms for o in results["protected"])
    print(f"goal protected < 50 ms: {'met' if protected < 50 else 'missed'} (worst {worst:.0f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
