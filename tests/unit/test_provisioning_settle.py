"""Provisioning steps within and across transactions: a step settles its service (the
reconciler skips that transaction's own writes of it), services of one transaction
see each other's ports."""

from __future__ import annotations

import pytest

from netweave.bus import InProcessBus
from netweave.inventory import Inventory, load_descriptor
from netweave.model import (
    ConfigRule,
    EndpointRef,
    Link,
    OperStatus,
    RuleStatus,
    Service,
)
from netweave.model.ids import device_id, endpoint_id, rule_id, service_id
from netweave.services import Provisioning, ResourceConflict, owner_of
from netweave.services.reconciler import _dirt
from netweave.store import Change, Changes, Op, Store

LINE = """
name: line
devices:
- {name: s1, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2}]}
- {name: s2, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2}]}
- {name: h1, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:01'}
- {name: h2, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:02'}
links:
- {a: {device: s1, port: eth1}, b: {device: s2, port: eth1}}
- {a: {device: h1, port: eth0}, b: {device: s1, port: eth2}}
- {a: {device: h2, port: eth0}, b: {device: s2, port: eth2}}
"""


def _service() -> Service:
    ends = [
        EndpointRef(device_id=device_id(h), endpoint_id=endpoint_id(h, "eth0"))
        for h in ("h1", "h2")
    ]
    return Service(id=service_id("svc"), name="svc", endpoints=ends)


def _store_with_line(store: Store) -> None:
    Inventory(store, InProcessBus()).import_topology(load_descriptor(LINE, "line.yaml")[0])


def test_the_transaction_reports_the_services_it_converged(store: Store) -> None:
    _store_with_line(store)
    reported: list[set[str]] = []
    store.on_commit(lambda changes: reported.append(set(changes.settled)))
    with store.transaction() as repo:
        service = repo.services.add(_service())
        Provisioning(repo).converge(service, recompute=True)
    assert reported == [{service.id}]


def test_settled_services_are_not_dirty_but_their_links_still_are() -> None:
    service = _service()
    rule = ConfigRule(
        id=rule_id(owner_of(service.id), device_id("s1"), "/k"),
        owner=owner_of(service.id),
        device_id=device_id("s1"),
        key="/k",
        value={},
    )
    up = Link.model_validate(
        {
            "id": "l1",
            "name": "l1",
            "a": {"device_id": "d1", "endpoint_id": "e1"},
            "b": {"device_id": "d2", "endpoint_id": "e2"},
            "status": "up",
        }
    )
    down = up.model_copy(update={"status": OperStatus.DOWN})
    changes = Changes()
    changes += [
        Change("service", Op.CREATED, service),
        Change("config_rule", Op.CREATED, rule),
        Change("link", Op.UPDATED, down, up),
    ]
    assert _dirt(changes).services == {service.id}
    changes.settled.add(service.id)
    dirty = _dirt(changes)
    assert dirty.services == set()
    assert dirty.elements == {"l1"}


def test_rule_answers_wait_for_the_last_one_awaited() -> None:
    service = _service()
    owner = owner_of(service.id)
    rule = ConfigRule(
        id=rule_id(owner, device_id("s1"), "/k"),
        owner=owner,
        device_id=device_id("s1"),
        key="/k",
        value={},
        status=RuleStatus.APPLIED,
    )
    changes = Changes()
    changes.append(Change("config_rule", Op.UPDATED, rule, rule))
    changes.awaited.add(owner)
    assert _dirt(changes).services == set()
    changes.awaited.clear()
    assert _dirt(changes).services == {service.id}


def test_two_services_of_one_transaction_cannot_share_a_port(store: Store) -> None:
    _store_with_line(store)
    first = _service()
    second = first.model_copy(update={"id": service_id("other"), "name": "other"})
    with (
        pytest.raises(ResourceConflict, match="used by service 'svc'"),
        store.transaction() as repo,
    ):
        provisioning = Provisioning(repo)
        assert provisioning.snap.port_users == {}  # read before either service exists
        for service in (first, second):
            repo.services.add(service)
            provisioning.converge(service, strict=True, recompute=True)


def test_a_host_port_and_the_switch_port_it_is_linked_to_are_one_port(store: Store) -> None:
    _store_with_line(store)
    with store.transaction() as repo:
        service = repo.services.add(_service())  # h1:eth0 (linked to s1:eth2) - h2:eth0
        Provisioning(repo).converge(service, strict=True, recompute=True)
    on_switch = EndpointRef(device_id=device_id("s1"), endpoint_id=endpoint_id("s1", "eth2"))
    far = EndpointRef(device_id=device_id("s2"), endpoint_id=endpoint_id("s2", "eth1"))
    other = Service(id=service_id("other"), name="other", endpoints=[on_switch, far])
    refused = pytest.raises(ResourceConflict, match="the port is used by service 'svc'")
    with refused, store.transaction() as repo:
        Provisioning(repo).converge(repo.services.add(other), strict=True, recompute=True)
