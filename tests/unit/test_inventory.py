from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from netweave.bus import InProcessBus
from netweave.inventory import (
    Conflict,
    DeviceCreate,
    DeviceUpdate,
    EndpointCreate,
    EndpointUpdate,
    Invalid,
    Inventory,
    InventoryError,
    LinkCreate,
    LinkUpdate,
    NotFound,
    PortRef,
    ServiceCreate,
    ServiceUpdate,
)
from netweave.model import (
    ConfigRule,
    DeviceType,
    Event,
    OperStatus,
    RuleStatus,
    ServiceStatus,
)
from netweave.model.ids import device_id, endpoint_id, link_id
from netweave.store import Store


@pytest.fixture
def inventory(store: Store, bus: InProcessBus) -> Inventory:
    return Inventory(store, bus)


def switches(inventory: Inventory, *names: str, ports: tuple[str, ...] = ("eth1", "eth2")) -> None:
    for name in names:
        inventory.create_device(DeviceCreate(name=name))
        for port in ports:
            inventory.create_endpoint(name, EndpointCreate(name=port))


def link(a: str, b: str, **fields: object) -> LinkCreate:
    (dev_a, port_a), (dev_b, port_b) = a.split(":"), b.split(":")
    return LinkCreate.model_validate(
        {"a": {"device": dev_a, "endpoint": port_a}, "b": {"device": dev_b, "endpoint": port_b}}
        | fields
    )


def only_problem(error: pytest.ExceptionInfo[InventoryError]) -> tuple[tuple[str | int, ...], str]:
    [problem] = error.value.problems
    return problem.loc, problem.msg


# -- devices and endpoints ---------------------------------------------------------------


def test_device_is_found_by_name_and_by_id(inventory: Inventory) -> None:
    created = inventory.create_device(DeviceCreate(name="s1", drivers=["emulated"]))
    assert created.id == device_id("s1")
    assert inventory.get_device("s1") == inventory.get_device(created.id) == created
    assert [d.name for d in inventory.list_devices()] == ["s1"]


def test_patch_keeps_unset_fields_and_put_resets_them(inventory: Inventory) -> None:
    inventory.create_device(DeviceCreate(name="s1", drivers=["emulated"], address="tcp:x:1"))
    patched = inventory.update_device("s1", DeviceUpdate.model_validate({"address": "tcp:y:2"}))
    assert (patched.drivers, patched.address) == (["emulated"], "tcp:y:2")
    replaced = inventory.update_device("s1", DeviceUpdate(type=DeviceType.ROUTER), replace=True)
    assert (replaced.type, replaced.drivers, replaced.address) == (DeviceType.ROUTER, [], None)
    assert inventory.get_device("s1") == replaced


def test_duplicate_device_name_conflicts(inventory: Inventory) -> None:
    inventory.create_device(DeviceCreate(name="s1"))
    with pytest.raises(Conflict) as error:
        inventory.create_device(DeviceCreate(name="s1", type=DeviceType.ROUTER))
    assert only_problem(error) == (("name",), "device 's1' already exists")
    assert error.value.status == 409


def test_unknown_device_is_not_found(inventory: Inventory) -> None:
    with pytest.raises(NotFound) as error:
        inventory.get_device("s9")
    assert only_problem(error) == (("device",), "no device named 's9'")
    assert error.value.status == 404
    with pytest.raises(NotFound):
        inventory.update_device(device_id("s9"), DeviceUpdate())
    with pytest.raises(NotFound):
        inventory.delete_device("s9")


def test_endpoints_names_and_numbers_are_unique_per_device(inventory: Inventory) -> None:
    switches(inventory, "s1", "s2", ports=())
    port = inventory.create_endpoint("s1", EndpointCreate(name="eth1", number=1))
    assert port.id == endpoint_id("s1", "eth1")
    inventory.create_endpoint("s2", EndpointCreate(name="eth1", number=1))
    with pytest.raises(Conflict) as error:
        inventory.create_endpoint("s1", EndpointCreate(name="eth1"))
    assert error.value.problems[0].loc == ("name",)
    with pytest.raises(Conflict) as error:
        inventory.create_endpoint("s1", EndpointCreate(name="eth2", number=1))
    assert only_problem(error) == (("number",), "port number 1 is used by 'eth1'")
    second = inventory.create_endpoint("s1", EndpointCreate(name="eth2", number=2))
    with pytest.raises(Conflict):
        inventory.update_endpoint(second.id, EndpointUpdate(number=1))
    assert [p.name for p in inventory.list_endpoints("s1")] == ["eth1", "eth2"]
    assert len(inventory.list_endpoints()) == 3


def test_endpoint_ip_must_be_cidr() -> None:
    with pytest.raises(ValidationError) as error:
        EndpointUpdate(ip="10.0.0.1")
    assert error.value.errors()[0]["loc"] == ("ip",)
    assert EndpointUpdate(ip="10.0.0.1/24").ip == "10.0.0.1/24"


def test_unknown_endpoint_is_not_found(inventory: Inventory) -> None:
    with pytest.raises(NotFound) as error:
        inventory.get_endpoint(endpoint_id("s1", "eth9"))
    assert error.value.problems[0].loc == ("endpoint",)


# -- links ----------------------------------------------------------------------------


def test_link_joins_ports_by_name_or_id(inventory: Inventory) -> None:
    switches(inventory, "s1", "s2")
    created = inventory.create_link(link("s1:eth1", "s2:eth1", capacity_bps=10**9))
    assert created.name == "s1:eth1--s2:eth1"
    assert created.id == link_id(created.name)
    assert created.a.endpoint_id == endpoint_id("s1", "eth1")
    by_ids = LinkCreate(
        name="l2",
        a=PortRef(device=device_id("s1"), endpoint=endpoint_id("s1", "eth2")),
        b=PortRef(device="s2", endpoint="eth2"),
    )
    assert inventory.create_link(by_ids).b.endpoint_id == endpoint_id("s2", "eth2")
    assert inventory.get_link("l2") == inventory.get_link(link_id("l2"))


def test_link_to_unknown_device_names_the_field(inventory: Inventory) -> None:
    switches(inventory, "s1")
    with pytest.raises(Invalid) as error:
        inventory.create_link(link("s9:eth1", "s1:eth1"))
    assert only_problem(error) == (("a", "device"), "no device named 's9'")
    assert str(error.value) == "a.device: no device named 's9'"
    assert error.value.status == 422


def test_link_to_missing_port_names_the_field(inventory: Inventory) -> None:
    switches(inventory, "s1", "s2")
    with pytest.raises(Invalid) as error:
        inventory.create_link(link("s1:eth1", "s2:eth7"))
    assert only_problem(error) == (("b", "endpoint"), "device 's2' has no port 'eth7'")


def test_link_needs_two_different_ports(inventory: Inventory) -> None:
    switches(inventory, "s1")
    with pytest.raises(Invalid) as error:
        inventory.create_link(link("s1:eth1", "s1:eth1"))
    assert error.value.problems[0].loc == ("b",)


def test_port_already_linked_conflicts(inventory: Inventory) -> None:
    switches(inventory, "s1", "s2", "s3")
    inventory.create_link(link("s1:eth1", "s2:eth1", name="l1"))
    with pytest.raises(Conflict) as error:
        inventory.create_link(link("s3:eth1", "s2:eth1"))
    assert only_problem(error) == (("b", "endpoint"), "port 'eth1' is already used by link 'l1'")
    with pytest.raises(Conflict) as error:
        inventory.create_link(link("s3:eth1", "s3:eth2", name="l1"))
    assert error.value.problems[0].loc == ("name",)
    assert [x.name for x in inventory.list_links()] == ["l1"]


def test_negative_capacity_is_refused_by_the_input_model() -> None:
    with pytest.raises(ValidationError) as error:
        link("s1:eth1", "s2:eth1", capacity_bps=-1)
    assert error.value.errors()[0]["loc"] == ("capacity_bps",)


def test_link_update_is_revalidated(inventory: Inventory, store: Store) -> None:
    switches(inventory, "s1", "s2")
    created = inventory.create_link(link("s1:eth1", "s2:eth1", capacity_bps=1000, name="l1"))
    with store.transaction() as tx:
        tx.links.update(created.model_copy(update={"reserved_bps": 800}))
    assert inventory.update_link("l1", LinkUpdate.model_validate({"cost": 5})).capacity_bps == 1000
    with pytest.raises(Invalid) as error:
        inventory.update_link("l1", LinkUpdate.model_validate({"capacity_bps": 500}))
    assert "reserved_bps 800 exceeds capacity_bps 500" in error.value.problems[0].msg
    assert inventory.get_link("l1").capacity_bps == 1000


def test_deleting_a_linked_device_conflicts_and_lists_the_links(inventory: Inventory) -> None:
    switches(inventory, "s1", "s2")
    inventory.create_link(link("s1:eth1", "s2:eth1", name="l1"))
    inventory.create_link(link("s1:eth2", "s2:eth2", name="l2"))
    with pytest.raises(Conflict) as error:
        inventory.delete_device("s1")
    assert only_problem(error) == (
        ("device",),
        "'s1' is still used by link 'l1', link 'l2'; delete them first",
    )
    with pytest.raises(Conflict):
        inventory.delete_endpoint(endpoint_id("s1", "eth1"))
    inventory.delete_link("l1")
    inventory.delete_link(link_id("l2"))
    inventory.delete_device("s1")
    assert [d.name for d in inventory.list_devices()] == ["s2"]
    assert {e.device_id for e in inventory.list_endpoints()} == {device_id("s2")}


# -- services -------------------------------------------------------------------------


def service(name: str, *ports: str, **fields: object) -> ServiceCreate:
    refs = [dict(zip(("device", "endpoint"), p.split(":"), strict=True)) for p in ports]
    return ServiceCreate.model_validate({"name": name, "endpoints": refs} | fields)


def test_service_is_stored_planned_with_resolved_ports(inventory: Inventory) -> None:
    switches(inventory, "h1", "h2", ports=("eth0", "eth1"))
    inventory.create_link(link("h1:eth1", "h2:eth1"))
    created = inventory.create_service(service("svc", "h1:eth0", "h2:eth0"))
    assert created.status is ServiceStatus.PLANNED
    assert [ref.endpoint_id for ref in created.endpoints] == [
        endpoint_id("h1", "eth0"),
        endpoint_id("h2", "eth0"),
    ]
    updated = inventory.update_service(
        "svc", ServiceUpdate.model_validate({"constraints": {"max_hops": 1}})
    )
    assert updated.constraints.max_hops == 1
    with pytest.raises(Invalid) as refused:
        inventory.update_service("svc", ServiceUpdate.model_validate({"type": "l3vpn"}))
    assert only_problem(refused) == (
        ("endpoints", 0),
        "h1:eth0 is not a host port (l3vpn routes between hosts)",
    )
    with pytest.raises(Conflict) as error:
        inventory.delete_endpoint(endpoint_id("h1", "eth0"))
    assert "service 'svc'" in error.value.problems[0].msg
    assert inventory.delete_service("svc").name == "svc"
    assert inventory.list_services() == []


def test_service_input_errors_name_the_endpoint(inventory: Inventory) -> None:
    switches(inventory, "h1", "h2", ports=("eth0",))
    with pytest.raises(Invalid) as error:
        inventory.create_service(service("svc", "h1:eth0", "h2:eth9"))
    assert only_problem(error) == (("endpoints", 1, "endpoint"), "device 'h2' has no port 'eth9'")
    with pytest.raises(Invalid) as error:
        inventory.create_service(service("svc", "h1:eth0", "h1:eth0"))
    assert error.value.problems[0].loc == ("endpoints", 1)
    with pytest.raises(Invalid) as error:
        inventory.create_service(service("svc", "h1:eth0", "h2:eth0", "h2:eth0"))
    assert error.value.problems[0].loc == ("endpoints",)
    with pytest.raises(NotFound):
        inventory.get_service("svc")


def test_topology_is_one_snapshot(inventory: Inventory) -> None:
    switches(inventory, "s1", "s2")
    inventory.create_link(link("s1:eth1", "s2:eth1"))
    topology = inventory.topology()
    assert (len(topology.devices), len(topology.endpoints), len(topology.links)) == (2, 4, 1)


# -- events ---------------------------------------------------------------------------


def test_every_committed_write_publishes_its_event(inventory: Inventory, bus: InProcessBus) -> None:
    seen: list[Event] = []
    bus.subscribe("*", seen.append)
    switches(inventory, "s1", "s2", ports=("eth1",))
    created = inventory.create_link(link("s1:eth1", "s2:eth1", name="l1"))
    inventory.update_link("l1", LinkUpdate.model_validate({"cost": 3}))
    inventory.delete_link("l1")
    assert [e.type.value for e in seen] == [
        "device.created",
        "endpoint.created",
        "device.created",
        "endpoint.created",
        "link.created",
        "link.updated",
        "link.deleted",
    ]
    assert seen[4].entity_id == created.id
    assert seen[5].data["cost"] == 3


def test_a_status_change_also_publishes_the_status_event(
    inventory: Inventory, store: Store, bus: InProcessBus
) -> None:
    device = inventory.create_device(DeviceCreate(name="s1"))
    seen: list[Event] = []
    bus.subscribe("device", seen.append)
    with store.transaction() as tx:
        tx.devices.update(device.model_copy(update={"status": OperStatus.UP}))
    inventory.update_device("s1", DeviceUpdate.model_validate({"address": "tcp:a:1"}))
    assert [e.type.value for e in seen] == ["device.updated", "device.status", "device.updated"]
    assert seen[1].data["status"] == "up"


def test_a_refused_write_publishes_nothing(inventory: Inventory, bus: InProcessBus) -> None:
    inventory.create_device(DeviceCreate(name="s1"))
    seen: list[Event] = []
    bus.subscribe("*", seen.append)
    with pytest.raises(Conflict):
        inventory.create_device(DeviceCreate(name="s1"))
    with pytest.raises(Invalid):
        inventory.create_link(link("s1:eth1", "s9:eth1"))
    assert seen == []


def test_config_rules_publish_status_changes_only(
    inventory: Inventory, store: Store, bus: InProcessBus
) -> None:
    seen: list[Event] = []
    bus.subscribe("*", seen.append)
    rule = ConfigRule(id="r1", owner="service/x", device_id=device_id("s1"), key="/flow/1")
    with store.transaction() as tx:
        tx.rules.put(rule)
    with store.transaction() as tx:
        tx.rules.put(rule.model_copy(update={"status": RuleStatus.APPLIED}))
    assert [(e.type.value, e.entity_id, e.data["status"]) for e in seen] == [
        ("config_rule.status", "r1", "applied")
    ]


def test_an_update_that_changes_nothing_publishes_nothing(
    inventory: Inventory, store: Store, bus: InProcessBus
) -> None:
    device = inventory.create_device(DeviceCreate(name="s1"))
    seen: list[Event] = []
    bus.subscribe("*", seen.append)
    with store.transaction() as tx:
        tx.devices.update(device)
    assert seen == []


class BrokenBus:
    def publish(self, event: Event) -> None:
        raise RuntimeError("bus down")

    def subscribe(self, pattern: str, handler: Any) -> Any:
        raise NotImplementedError


def test_a_failing_bus_does_not_fail_the_committed_write(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    inventory = Inventory(store, BrokenBus())
    inventory.create_device(DeviceCreate(name="s1"))
    assert inventory.get_device("s1").name == "s1"
    assert "could not publish device.created" in caplog.text
