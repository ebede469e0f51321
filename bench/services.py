"""Service provisioning benchmark on emulated switches: create -> active.

Run: ``python -m bench.services [--quick] [--ovs]``. With ``--ovs`` (root) the single
case runs on a real Open vSwitch lab of the same chain instead (OpenFlow, bundles,
barrier-confirmed), hosts in namespaces.

Topology: a chain of 5 emulated switches s1..s5 with `hosts` hosts on s1 and as many on
s5; service i joins host a<i> (on s1) with host b<i> (on s5): 5 switch hops, 10 flows.
Controller parts run in-process on one event loop: the device manager (emulated driver,
no added latency) and the service reconciler, on SQLite in a temporary directory.

- single: `Inventory.create_service` (validation, route, reservation, VLAN, rules: one
  transaction) until the service is `active` (every rule confirmed by its switch), one
  service after another; p50/p99. Baseline: the same service's rules written straight
  to the store in one transaction until all are `applied`: the round trip through the
  device manager that any provisioning pays.
- batch: 1,000 services created in one transaction (`Provisioning.converge_many`)
  until all are active. Baseline: the same rules written straight to the store until
  all applied.
- next to 1,000 services: the single case on a chain with 1,000 more host pairs (4,000
  devices and links) while 1,000 services are active on it: what a service costs once
  a network is in use (the topology, port users and VLANs of every other service).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import statistics
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from bench.common import Stopwatch, parser, plot_cdf, report
from netweave.bus import InProcessBus
from netweave.controller import Backoff, DeviceManager
from netweave.drivers import DriverPlugin
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.drivers.openflow import OpenFlowPlugin
from netweave.gcpause import freeze_heap
from netweave.inventory import Inventory
from netweave.inventory.inputs import PortRef, ServiceCreate
from netweave.lab import Lab, LabOptions
from netweave.model import (
    ConfigRule,
    DeviceSpec,
    DeviceType,
    EndpointRef,
    LinkEnd,
    LinkSpec,
    PortSpec,
    RuleAction,
    RuleStatus,
    Service,
    ServiceStatus,
    TopologyDescriptor,
)
from netweave.model.ids import device_id, endpoint_id, rule_id, service_id
from netweave.services import Provisioning, ServiceReconciler, owner_of, service_of
from netweave.store import Change, Store

SWITCHES = 5
GBIT = 1_000_000_000
BASELINE_OWNER = "baseline"


def chain(hosts: int, driver: str = "emulated") -> TopologyDescriptor:
    """s1..s5 in a row; hosts a0.. on s1 and b0.. on s5 (ports 3.. of each), the hosts
    numbered 10.0.<i>.1 (a) and 10.0.<i>.2 (b)."""
    names = [f"s{n}" for n in range(1, SWITCHES + 1)]
    edge_ports = [PortSpec(name=f"e{i}", number=3 + i) for i in range(hosts)]
    devices = [
        DeviceSpec(
            name=name,
            drivers=[driver],
            ports=[PortSpec(name="up", number=1), PortSpec(name="down", number=2)]
            + (edge_ports if name in (names[0], names[-1]) else []),
        )
        for name in names
    ]
    links = [
        LinkSpec(
            a=LinkEnd(device=a, port="down"), b=LinkEnd(device=b, port="up"), capacity_bps=GBIT
        )
        for a, b in itertools.pairwise(names)
    ]
    for side, switch in (("a", names[0]), ("b", names[-1])):
        for i in range(hosts):
            host = f"{side}{i}"
            address = f"10.{i // 256}.{i % 256}.{1 if side == 'a' else 2}/24"
            devices.append(
                DeviceSpec(
                    name=host, type=DeviceType.HOST, ports=[PortSpec(name="eth0")], ip=address
                )
            )
            links.append(
                LinkSpec(
                    a=LinkEnd(device=host, port="eth0"), b=LinkEnd(device=switch, port=f"e{i}")
                )
            )
    return TopologyDescriptor(name="chain", devices=devices, links=links)


class Waiter:
    """Counts entities reaching a state, from store commits; `done` when `count` did."""

    def __init__(self) -> None:
        self._match: Callable[[BaseModel], bool] = lambda _: False
        self._seen: set[str] = set()
        self._count = 0
        self.done = asyncio.Event()

    def expect(self, match: Callable[[BaseModel], bool], count: int) -> asyncio.Event:
        self._match, self._seen, self._count = match, set(), count
        self.done = asyncio.Event()
        return self.done

    def __call__(self, changes: list[Change]) -> None:
        for change in changes:
            entity = change.entity
            if self._match(entity):
                self._seen.add(getattr(entity, "id", ""))
        if len(self._seen) >= self._count:
            self.done.set()


def active(entity: BaseModel) -> bool:
    return isinstance(entity, Service) and entity.status is ServiceStatus.ACTIVE


def applied(entity: BaseModel) -> bool:
    return (
        isinstance(entity, ConfigRule)
        and entity.owner == BASELINE_OWNER
        and entity.status is RuleStatus.APPLIED
    )


def baseline_rules(store: Store) -> int:
    with store.read() as repo:
        return repo.rules.count(owner=BASELINE_OWNER)


def gone(store: Store, ident: str) -> bool:
    with store.read() as repo:
        return repo.services.find(ident) is None


async def until(check: Callable[[], bool]) -> None:
    while not check():  # noqa: ASYNC110 - polling an arbitrary condition is the point
        await asyncio.sleep(0.005)


def as_baseline(rules: list[ConfigRule]) -> list[ConfigRule]:
    """The same rules, owned by the baseline (new ids, pending)."""
    return [
        r.model_copy(
            update={
                "id": rule_id(BASELINE_OWNER, r.device_id, r.key),
                "owner": BASELINE_OWNER,
                "status": RuleStatus.PENDING,
            }
        )
        for r in rules
    ]


async def write_and_wait(setup: Setup, rules: list[ConfigRule]) -> float:
    """Seconds from writing `rules` until all are applied; then removes them (untimed)."""
    clock = Stopwatch()
    with clock:
        done = setup.waiter.expect(applied, len(rules))
        with setup.store.transaction() as repo:
            repo.rules.put_many(rules)
        await done.wait()
    with setup.store.transaction() as repo:
        repo.rules.put_many([r.model_copy(update={"action": RuleAction.DELETE}) for r in rules])
    await until(lambda: not baseline_rules(setup.store))
    return clock.seconds


async def single(
    setup: Setup,
    count: int,
    plot: str | None = None,
    where: str = "",
    hosts: tuple[str, str] = ("a0", "b0"),
    case: str = "single",
) -> None:
    created: list[float] = []
    captured: list[list[ConfigRule]] = []
    for i in range(count):
        name = f"one{i}"
        owner = owner_of(service_id(name))
        ends = [PortRef(device=host, endpoint="eth0") for host in hosts]
        clock = Stopwatch()
        with clock:
            done = setup.waiter.expect(active, 1)
            setup.inventory.create_service(ServiceCreate(name=name, endpoints=ends))
            await done.wait()
        created.append(clock.seconds)
        with setup.store.read() as repo:
            captured.append(repo.rules.list(owner=owner))
        setup.inventory.delete_service(name)
        await until(functools.partial(gone, setup.store, service_id(name)))
    baseline = [await write_and_wait(setup, as_baseline(rules)) for rules in captured]
    warm = len(created) // 10  # the first ones pay for imports and caches
    if plot:
        plot_cdf(
            plot,
            f"service create -> active, 5 hops, {where}",
            {
                "rules write -> applied (baseline)": [t * 1000 for t in baseline[warm:]],
                "service create -> active": [t * 1000 for t in created[warm:]],
            },
            "ms",
        )
    for label, quantile in (("p50", 50), ("p99", 99)):
        base = percentile(baseline[warm:], quantile) * 1000
        report(f"{case} rules write -> applied {label}", base, "ms")
        value = percentile(created[warm:], quantile) * 1000
        report(f"{case} service create -> active {label}", value, "ms", base)


def percentile(values: list[float], quantile: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[quantile - 1]


def many(count: int) -> list[Service]:
    """Services many<i> joining host a<i> with host b<i>."""
    return [
        Service(
            id=service_id(f"many{i}"),
            name=f"many{i}",
            endpoints=[
                EndpointRef(device_id=device_id(host), endpoint_id=endpoint_id(host, "eth0"))
                for host in (f"a{i}", f"b{i}")
            ],
        )
        for i in range(count)
    ]


async def create_many(setup: Setup, count: int) -> None:
    """`many(count)` created in one transaction (`Provisioning.converge_many`), until all
    are active."""
    services = many(count)
    done = setup.waiter.expect(active, count)
    with setup.store.transaction() as repo:
        for service in services:
            repo.services.add(service)
        Provisioning(repo).converge_many(services, strict=True, recompute=True)
    await done.wait()


async def loaded(setup: Setup, count: int, singles: int) -> None:
    """The single case again, next to `count` active services (hosts a<count>, b<count>)."""
    await create_many(setup, count)
    hosts = (f"a{count}", f"b{count}")
    await single(setup, singles, hosts=hosts, case=f"next to {count} services:")


async def batch(setup: Setup, count: int) -> None:
    clock = Stopwatch()
    with clock:
        await create_many(setup, count)
    with setup.store.transaction() as repo:
        rules = [r for r in repo.rules.list() if service_of(r.owner) is not None]
        provisioning = Provisioning(repo)
        for service in repo.services.list():
            provisioning.remove(service)
    await until(lambda: not setup.inventory.list_services())
    base = await write_and_wait(setup, as_baseline(rules)) * 1000
    report(f"batch rules write -> applied ({len(rules)} rules)", base, "ms")
    report(f"batch {count} services create -> active", clock.seconds * 1000, "ms", base)


@dataclass
class Setup:
    store: Store
    inventory: Inventory
    waiter: Waiter


@asynccontextmanager
async def running(descriptor: TopologyDescriptor, ovs: bool = False) -> AsyncIterator[Setup]:
    """The descriptor's network (emulated, or a real Open vSwitch lab) under a device
    manager and a service reconciler, on a fresh SQLite store."""
    with tempfile.TemporaryDirectory(prefix="nwb") as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        inventory = Inventory(store, InProcessBus())
        inventory.import_topology(descriptor)
        plugin: DriverPlugin = (
            OpenFlowPlugin(port=0)
            if ovs
            else EmulatedPlugin(EmulatedNetwork.from_descriptor(descriptor))
        )
        manager = DeviceManager(store, {plugin.name: plugin}, backoff=Backoff(0.01))
        reconciler = ServiceReconciler(store)
        waiter = Waiter()
        store.on_commit(waiter)
        await manager.start()
        await reconciler.start()
        lab = None
        if isinstance(plugin, OpenFlowPlugin):
            options = LabOptions(controller=f"tcp:127.0.0.1:{plugin.port}")
            lab = Lab(descriptor, options, Path(tmp))
            await asyncio.to_thread(lab.up)
        try:
            await until(lambda: len(manager.connected_devices()) == SWITCHES)
            freeze_heap()  # as `netweave serve` does once set up
            yield Setup(store, inventory, waiter)
        finally:
            await reconciler.stop()
            await manager.stop()
            if lab is not None:
                await asyncio.to_thread(lab.down)
            store.close()


async def main() -> None:
    command = parser(__doc__ or "")
    command.add_argument("--ovs", action="store_true", help="single case on real OVS (root)")
    command.add_argument("--plot", metavar="PNG", help="save the single case's CDF there")
    args = command.parse_args()
    singles, batched = (50, 200) if args.quick else (500, 1000)
    if args.ovs:
        print(f"a chain of {SWITCHES} Open vSwitch switches, 5 hops (10 flows), SQLite")
        async with running(chain(1, "openflow"), ovs=True) as setup:
            await single(setup, singles // 5, args.plot, "real Open vSwitch")
        return
    print(f"a chain of {SWITCHES} emulated switches, services of 5 hops (10 flows), SQLite")
    async with running(chain(1)) as setup:
        await single(setup, singles, args.plot, "emulated switches")
    async with running(chain(batched)) as setup:
        await batch(setup, batched)
    async with running(chain(batched + 1)) as setup:
        await loaded(setup, batched, singles // 5)


if __name__ == "__main__":
    asyncio.run(main())
