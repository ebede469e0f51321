"""Services end to end on emulated switches: route, reservation, rules, status; a refused
rule rolls back, a link down reroutes, delete removes exactly the service's rules."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from netweave.bus import InProcessBus
from netweave.drivers.emulated import EmulatedNetwork
from netweave.inventory import Conflict, Invalid, Inventory, load_descriptor
from netweave.inventory.inputs import LinkUpdate, ServiceCreate, ServiceUpdate
from netweave.model import (
    ConfigRule,
    ConnectionRole,
    EndpointRef,
    OperStatus,
    Service,
    ServiceStatus,
)
from netweave.model.ids import device_id, endpoint_id, link_id, service_id
from netweave.services import ServiceReconciler, connection_id, owner_of
from netweave.store import Store
from netweave.testing import emulated_services, eventually

GBIT = 1_000_000_000


def _switch(name: str, ports: int) -> str:
    numbered = ", ".join(f"{{name: eth{n}, number: {n}}}" for n in range(1, ports + 1))
    return f"- {{name: {name}, drivers: [emulated], ports: [{numbered}]}}\n"


def _host(name: str, number: int) -> str:
    mac = f"'00:00:00:00:00:0{number}'"
    return f"- {{name: {name}, type: host, ports: [{{name: eth0}}], mac: {mac}}}\n"


def _link(a: str, b: str, capacity: int = GBIT) -> str:
    (da, pa), (db, pb) = a.split(":"), b.split(":")
    ends = f"a: {{device: {da}, port: {pa}}}, b: {{device: {db}, port: {pb}}}"
    return f"- {{{ends}, capacity_bps: {capacity}}}\n"


# s1 - s2 - s3 - s4 - s1 (a square); h1 on s1, h2 on s3, h3 on s2, h4 on s1.
SQUARE = (
    "name: square\ndevices:\n"
    + "".join(_switch(s, 4) for s in ("s1", "s2", "s3", "s4"))
    + "".join(_host(h, n) for n, h in enumerate(("h1", "h2", "h3", "h4"), start=1))
    + "links:\n"
    + _link("s1:eth1", "s2:eth1")
    + _link("s2:eth2", "s3:eth1")
    + _link("s3:eth2", "s4:eth1")
    + _link("s4:eth2", "s1:eth2")
    + _link("h1:eth0", "s1:eth3", 100_000_000)
    + _link("h2:eth0", "s3:eth3", 100_000_000)
    + _link("h3:eth0", "s2:eth3", 100_000_000)
    + _link("h4:eth0", "s1:eth4", 100_000_000)
)
SWITCHES = ("s1", "s2", "s3", "s4")


@dataclass
class Net:
    store: Store
    inventory: Inventory
    network: EmulatedNetwork
    reconciler: ServiceReconciler

    def service(self, name: str) -> Service | None:
        with self.store.read() as repo:
            return repo.services.find(service_id(name))

    def status(self, name: str) -> ServiceStatus | None:
        found = self.service(name)
        return found.status if found else None

    def rules(self, name: str) -> list[ConfigRule]:
        with self.store.read() as repo:
            return repo.rules.list(owner=owner_of(service_id(name)))

    def reserved(self, name: str) -> int:
        with self.store.read() as repo:
            return repo.links.get(link_id(name)).reserved_bps

    def on_switches(self) -> dict[str, set[str]]:
        """The rule keys on each emulated switch."""
        return {s: set(self.network.rules(s)) for s in SWITCHES}

    def create(self, name: str, a: str, b: str, **constraints: object) -> Service:
        refs = [dict(zip(("device", "endpoint"), p.split(":"), strict=True)) for p in (a, b)]
        spec = {"name": name, "endpoints": refs, "constraints": constraints}
        return self.inventory.create_service(ServiceCreate.model_validate(spec))


@pytest.fixture
async def net(store: Store) -> AsyncIterator[Net]:
    descriptor, _ = load_descriptor(SQUARE, "square.yaml")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    async with emulated_services(store, descriptor) as run:
        yield Net(store, inventory, run.network, run.reconciler)


H1_LINK, H2_LINK = "h1:eth0--s1:eth3", "h2:eth0--s3:eth3"


async def test_service_becomes_active_with_its_rules_and_reservation(net: Net) -> None:
    created = net.create("svc", "h1:eth0", "h2:eth0", bandwidth_bps=10_000_000)
    assert created.status is ServiceStatus.PLANNED
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    with net.store.read() as repo:
        connection = repo.connections.get(connection_id(service_id("svc")))
    assert [h.device_id for h in connection.hops] in (
        [device_id(s) for s in ("s1", "s2", "s3")],
        [device_id(s) for s in ("s1", "s4", "s3")],
    )
    assert connection.vlan_id == 100
    for name in (H1_LINK, H2_LINK):
        assert net.reserved(name) == 10_000_000
    on = net.on_switches()
    # 3 hops x 2 directions, plus one meter per direction at its ingress switch
    assert sum(map(len, on.values())) == 8
    assert {r.key for r in net.rules("svc")} == set().union(*on.values())


async def test_infeasible_or_conflicting_services_are_refused_with_nothing_reserved(
    net: Net,
) -> None:
    with pytest.raises(Invalid) as error:
        net.create("big", "h1:eth0", "h2:eth0", bandwidth_bps=200_000_000)
    assert error.value.problems[0].loc == ("constraints", "bandwidth_bps")
    assert "access link 'h1:eth0--s1:eth3' has 100000000 bit/s unreserved" in str(error.value)
    with pytest.raises(Invalid) as error:
        net.create("far", "h1:eth0", "h2:eth0", max_hops=3)
    assert error.value.problems[0].loc == ("constraints", "max_hops")
    assert net.reserved(H1_LINK) == 0 and net.service("big") is None
    net.create("one", "h1:eth0", "h2:eth0")
    with pytest.raises(Conflict) as conflict:
        net.create("two", "h3:eth0", "h1:eth0")
    assert conflict.value.problems[0].loc == ("endpoints", 1)
    assert "used by service 'one'" in str(conflict.value)


async def test_refused_rule_fails_the_service_and_rolls_every_rule_back(net: Net) -> None:
    net.network.fail_rules(lambda rule: "vlan_vid" in rule.key, "table full", device="s3")
    net.create("svc", "h1:eth0", "h2:eth0", bandwidth_bps=1_000_000)
    await eventually(lambda: net.status("svc") is ServiceStatus.FAILED)
    service = net.service("svc")
    assert service is not None and service.status_reason == "s3 refused: table full"
    await eventually(lambda: net.rules("svc") == [])
    assert net.on_switches() == {s: set() for s in SWITCHES}
    assert net.reserved(H1_LINK) == 0


async def test_link_down_reroutes_make_before_break_and_back_to_active(net: Net) -> None:
    net.create("svc", "h1:eth0", "h2:eth0", bandwidth_bps=5_000_000)
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    with net.store.read() as repo:
        before = repo.connections.get(connection_id(service_id("svc")))
    middle = before.hops[1].device_id
    down = next(link for link in before.link_ids[1:-1])
    with net.store.read() as repo:
        down_name = repo.links.get(down).name
    seen: set[ServiceStatus] = set()
    net.store.on_commit(
        lambda changes: seen.update(
            c.entity.status for c in changes if isinstance(c.entity, Service)
        )
    )
    net.network.set_link_status(down_name, OperStatus.DOWN)

    def moved() -> bool:
        with net.store.read() as repo:
            now = repo.connections.get(connection_id(service_id("svc")))
        return now.hops[1].device_id != middle and net.status("svc") is ServiceStatus.ACTIVE

    await eventually(moved)
    assert ServiceStatus.UPDATING in seen
    assert net.reserved(down_name) == 0
    middle_name = next(s for s in SWITCHES if device_id(s) == middle)
    await eventually(lambda: net.on_switches()[middle_name] == set())
    assert len(net.rules("svc")) == 8


async def test_no_path_left_fails_the_service_and_a_link_coming_back_revives_it(
    net: Net,
) -> None:
    net.create("svc", "h1:eth0", "h3:eth0")
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    for name in ("s1:eth1--s2:eth1", "s3:eth2--s4:eth1"):
        net.network.set_link_status(name, OperStatus.DOWN)
    await eventually(lambda: net.status("svc") is ServiceStatus.FAILED)
    service = net.service("svc")
    assert service is not None and "are not connected" in (service.status_reason or "")
    await eventually(lambda: net.on_switches() == {s: set() for s in SWITCHES})
    net.network.set_link_status("s1:eth1--s2:eth1", OperStatus.UP)
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)


async def test_delete_removes_exactly_its_rules_then_the_service(net: Net) -> None:
    net.create("keep", "h3:eth0", "h4:eth0")
    net.create("drop", "h1:eth0", "h2:eth0", bandwidth_bps=1_000_000)
    await eventually(lambda: {net.status("keep"), net.status("drop")} == {ServiceStatus.ACTIVE})
    kept = net.on_switches()
    keep_keys = {r.key for r in net.rules("keep")}
    removing = net.inventory.delete_service("drop")
    assert removing.status is ServiceStatus.REMOVING
    await eventually(lambda: net.service("drop") is None)
    assert net.rules("drop") == [] and net.reserved(H1_LINK) == 0
    assert set().union(*net.on_switches().values()) == keep_keys
    assert all(net.on_switches()[s] <= kept[s] for s in SWITCHES)


async def test_update_moves_an_active_service_to_its_new_constraints(net: Net) -> None:
    net.create("svc", "h1:eth0", "h2:eth0")
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    changes = ServiceUpdate.model_validate({"constraints": {"bandwidth_bps": 2_000_000}})
    updated = net.inventory.update_service("svc", changes)
    assert updated.status is ServiceStatus.UPDATING
    assert net.reserved(H1_LINK) == 2_000_000
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    meters = [r for r in net.rules("svc") if r.value["kind"] == "meter"]
    assert [m.value["rate_kbps"] for m in meters] == [2000, 2000]


async def test_a_restarted_reconciler_provisions_what_it_finds_in_the_store(
    net: Net, store: Store
) -> None:
    await net.reconciler.stop()
    with store.transaction() as repo:  # stored while no reconciler ran
        h1 = repo.endpoints.find_by_name("eth0", device_id("h1"))
        h2 = repo.endpoints.find_by_name("eth0", device_id("h2"))
        assert h1 is not None and h2 is not None
        repo.services.add(
            Service(
                id=service_id("svc"),
                name="svc",
                endpoints=[EndpointRef(device_id=h.device_id, endpoint_id=h.id) for h in (h1, h2)],
            )
        )
    again = ServiceReconciler(store)
    await again.start()
    try:
        await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    finally:
        await again.stop()


async def test_protected_service_gets_a_disjoint_backup_and_keeps_running_without_one(
    net: Net,
) -> None:
    net.create("svc", "h1:eth0", "h2:eth0", bandwidth_bps=1_000_000, protection="fast-reroute")
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    with net.store.read() as repo:
        primary, backup = (
            repo.connections.get(connection_id(service_id("svc"), role))
            for role in (ConnectionRole.PRIMARY, ConnectionRole.BACKUP)
        )
    assert set(primary.link_ids[1:-1]).isdisjoint(backup.link_ids[1:-1])
    for link in {*primary.link_ids, *backup.link_ids} - {link_id(H1_LINK), link_id(H2_LINK)}:
        with net.store.read() as repo:
            assert repo.links.get(link).reserved_bps == 1_000_000
    groups = [r for r in net.rules("svc") if r.value["kind"] == "group"]
    assert [g.value["type"] for g in groups] == ["ff"] * 4  # 2 switches x 2 directions
    with net.store.read() as repo:
        cut = repo.links.get(primary.link_ids[1]).name
    net.network.set_link_status(cut, OperStatus.DOWN)

    def unprotected() -> bool:
        service = net.service("svc")
        with net.store.read() as repo:
            paths = repo.connections.list(scope=service_id("svc"))
        return (
            service is not None
            and service.status is ServiceStatus.ACTIVE
            and (service.status_reason or "").startswith("running without a backup path")
            and len(paths) == 1
        )

    await eventually(unprotected)
    assert net.reserved(cut) == 0
    net.network.set_link_status(cut, OperStatus.UP)
    await eventually(
        lambda: (
            net.status("svc") is ServiceStatus.ACTIVE
            and len([r for r in net.rules("svc") if r.value["kind"] == "group"]) == 4
        )
    )
    with pytest.raises(Invalid) as error:  # the API refuses what it cannot protect
        net.create("alone", "h3:eth0", "h4:eth0", protection="1+1", exclude_links=[link_id(cut)])
    assert error.value.problems[0].loc == ("constraints", "protection")


def test_concurrent_creates_never_share_a_vlan_on_a_switch(store: Store) -> None:
    descriptor, _ = load_descriptor(SQUARE, "square.yaml")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    net = Net(store, inventory, EmulatedNetwork(), ServiceReconciler(store))
    pairs = [("h1:eth0", "h2:eth0"), ("h3:eth0", "h4:eth0")]  # both use s1

    def create(start: threading.Barrier, name: str, ends: tuple[str, str]) -> None:
        start.wait()
        net.create(name, *ends)

    for round_ in range(5):
        start = threading.Barrier(len(pairs))
        threads = [
            threading.Thread(target=create, args=(start, f"svc{round_}-{i}", ends))
            for i, ends in enumerate(pairs)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with store.read() as repo:
            vlans = [c.vlan_id for c in repo.connections.list()]
        assert len(vlans) == len(pairs) and len(set(vlans)) == len(vlans)
        for index in range(len(pairs)):
            inventory.delete_service(f"svc{round_}-{index}")


async def test_l2vpn_joins_its_endpoints_over_a_tree_and_reroutes(net: Net) -> None:
    ends = [{"device": h, "endpoint": "eth0"} for h in ("h1", "h2", "h3")]
    spec = {"name": "lan", "type": "l2vpn", "endpoints": ends}
    net.inventory.create_service(ServiceCreate.model_validate(spec))
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)
    with net.store.read() as repo:
        branches = repo.connections.list(scope=service_id("lan"))
    assert [b.name for b in branches] == ["branch-001", "branch-002"]
    assert len({b.vlan_id for b in branches}) == 1
    used = {link for b in branches for link in b.link_ids[1:-1]}
    with net.store.read() as repo:
        cut = repo.links.get(sorted(used)[0]).name
    net.network.set_link_status(cut, OperStatus.DOWN)

    def moved() -> bool:
        with net.store.read() as repo:
            now = repo.connections.list(scope=service_id("lan"))
        return net.status("lan") is ServiceStatus.ACTIVE and all(
            link_id(cut) not in b.link_ids for b in now
        )

    await eventually(moved)
    net.inventory.delete_service("lan")
    await eventually(lambda: net.service("lan") is None)
    assert net.on_switches() == {s: set() for s in SWITCHES}
    too_much = {"constraints": {"bandwidth_bps": 200_000_000}}  # above the access links
    with pytest.raises(Invalid) as error:
        net.inventory.create_service(ServiceCreate.model_validate(spec | too_much))
    assert error.value.problems[0].loc == ("constraints", "bandwidth_bps")


async def test_a_link_that_grows_revives_a_service_it_was_too_small_for(net: Net) -> None:
    ends = [
        EndpointRef(device_id=device_id(h), endpoint_id=endpoint_id(h, "eth0"))
        for h in ("h1", "h2")
    ]
    wide = Service(
        id=service_id("wide"),
        name="wide",
        endpoints=ends,
        constraints={"bandwidth_bps": 150_000_000},  # the access links have 100 Mbit/s
    )
    with net.store.transaction() as repo:  # written as another writer would: not refused
        repo.services.add(wide)
    await eventually(lambda: net.status("wide") is ServiceStatus.FAILED)
    service = net.service("wide")
    assert service is not None and "bit/s unreserved" in (service.status_reason or "")
    for access in (H1_LINK, H2_LINK):
        net.inventory.update_link(access, LinkUpdate(capacity_bps=GBIT))
    await eventually(lambda: net.status("wide") is ServiceStatus.ACTIVE)
    assert net.reserved(H1_LINK) == net.reserved(H2_LINK) == 150_000_000
    with pytest.raises(Invalid, match="reserved_bps 150000000 exceeds capacity_bps"):
        net.inventory.update_link(H1_LINK, LinkUpdate(capacity_bps=100_000_000))
    assert net.reserved(H1_LINK) == 150_000_000  # refused: the service moves first


async def test_a_link_grown_too_slow_moves_a_service_with_a_latency_limit(net: Net) -> None:
    net.create("svc", "h1:eth0", "h2:eth0", max_latency_ms=10)
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)

    def route() -> list[str]:
        with net.store.read() as repo:
            return repo.connections.get(connection_id(service_id("svc"))).link_ids

    first = route()
    with net.store.read() as repo:
        slow = repo.links.get(first[1]).name  # the first switch-to-switch link
    net.inventory.update_link(slow, LinkUpdate(latency_ms=20))
    await eventually(
        lambda: link_id(slow) not in route() and net.status("svc") is ServiceStatus.ACTIVE
    )
    other = route()[1]
    with net.store.read() as repo:
        other_name = repo.links.get(other).name
    net.inventory.update_link(other_name, LinkUpdate(latency_ms=20))
    await eventually(lambda: net.status("svc") is ServiceStatus.FAILED)
    service = net.service("svc")
    assert service is not None and "max_latency_ms" in (service.status_reason or "")
