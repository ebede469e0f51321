from __future__ import annotations

from netweave.controller.topology_sync import set_port_status, sync_ports
from netweave.drivers import PortState
from netweave.model import Device, EndpointRef, Link, LinkOrigin, OperStatus
from netweave.model.ids import device_id, endpoint_id, link_id
from netweave.store import Store

UP, DOWN = OperStatus.UP, OperStatus.DOWN


def _setup(store: Store, origin: LinkOrigin) -> tuple[Device, Device]:
    s1, s2 = (Device(id=device_id(n), name=n, drivers=["emulated"]) for n in ("s1", "s2"))
    with store.transaction() as repo:
        for dev in (s1, s2):
            repo.devices.add(dev)
            sync_ports(repo, dev, [PortState(name="p1", number=1, status=UP)])
        repo.links.add(
            Link(
                id=link_id("l1"),
                name="l1",
                a=EndpointRef(device_id=s1.id, endpoint_id=endpoint_id("s1", "p1")),
                b=EndpointRef(device_id=s2.id, endpoint_id=endpoint_id("s2", "p1")),
                origin=origin,
            )
        )
    return s1, s2


def test_sync_ports_creates_endpoints_with_deterministic_ids(store: Store) -> None:
    _setup(store, LinkOrigin.DECLARED)
    with store.read() as repo:
        ep = repo.endpoints.get(endpoint_id("s1", "p1"))
    assert (ep.name, ep.number, ep.status) == ("p1", 1, UP)


def test_declared_link_follows_port_status(store: Store) -> None:
    s1, _ = _setup(store, LinkOrigin.DECLARED)
    with store.transaction() as repo:
        set_port_status(repo, s1, PortState(name="p1", number=1, status=DOWN))
    with store.read() as repo:
        assert repo.links.get(link_id("l1")).status == DOWN
        assert repo.endpoints.get(endpoint_id("s1", "p1")).status == DOWN
    with store.transaction() as repo:
        set_port_status(repo, s1, PortState(name="p1", number=1, status=UP))
    with store.read() as repo:
        assert repo.links.get(link_id("l1")).status == UP


def test_discovered_link_is_removed_when_a_port_goes_down(store: Store) -> None:
    s1, _ = _setup(store, LinkOrigin.DISCOVERED)
    with store.transaction() as repo:
        set_port_status(repo, s1, PortState(name="p1", number=1, status=DOWN))
    with store.read() as repo:
        assert repo.links.find(link_id("l1")) is None


def test_link_to_a_driverless_host_is_up_when_the_switch_port_is(store: Store) -> None:
    s1, _ = _setup(store, LinkOrigin.DECLARED)
    with store.transaction() as repo:
        set_port_status(repo, s1, PortState(name="p1", number=1, status=DOWN))
        host_end = repo.endpoints.get(endpoint_id("s2", "p1"))
        repo.endpoints.update(host_end.model_copy(update={"status": OperStatus.UNKNOWN}))
        set_port_status(repo, s1, PortState(name="p1", number=1, status=UP))
    with store.read() as repo:
        assert repo.links.get(link_id("l1")).status == UP


def test_reported_ports_match_stored_endpoints_by_number_first(store: Store) -> None:
    s1 = Device(id=device_id("s1"), name="s1")
    with store.transaction() as repo:
        repo.devices.add(s1)
        sync_ports(repo, s1, [PortState(name="eth1", number=1, status=DOWN)])
        # The switch calls port 1 by its interface name: still the same endpoint.
        changed = sync_ports(repo, s1, [PortState(name="veth-a1", number=1, status=UP)])
    assert [(e.id, e.name, e.status) for e in changed] == [(endpoint_id("s1", "eth1"), "eth1", UP)]
    with store.read() as repo:
        assert len(repo.endpoints.list(scope=s1.id)) == 1
