from __future__ import annotations

import json
from pathlib import Path

import pytest

from netweave.bus import InProcessBus
from netweave.inventory import (
    Conflict,
    Invalid,
    Inventory,
    InventoryError,
    dump_descriptor,
    load_descriptor,
)
from netweave.model import DeviceSpec, OperStatus, Topology, TopologyDescriptor
from netweave.model.ids import device_id, endpoint_id, link_id
from netweave.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
TRIANGLE = (FIXTURES / "triangle.yaml").read_text()


@pytest.fixture
def inventory(store: Store, bus: InProcessBus) -> Inventory:
    return Inventory(store, bus)


def problem_of(error: pytest.ExceptionInfo[InventoryError]) -> str:
    [problem] = error.value.problems
    return str(problem)


def snapshot(inventory: Inventory) -> Topology:
    return inventory.topology()


# -- parsing --------------------------------------------------------------------------


def test_valid_yaml_and_json_load_alike() -> None:
    from_yaml, _ = load_descriptor(TRIANGLE, "triangle.yaml")
    as_json = json.dumps(from_yaml.model_dump(mode="json"), indent=2)
    from_json, _ = load_descriptor(as_json, "triangle.json")
    assert from_yaml == from_json
    assert [d.name for d in from_yaml.devices] == ["s1", "s2", "s3", "h1", "h2"]


def test_malformed_yaml_gives_line_and_column() -> None:
    text = "devices:\n  - name: s1\n   ports: []\n"
    with pytest.raises(Invalid) as error:
        load_descriptor(text, "bad.yaml")
    [problem] = error.value.problems
    assert problem.line == 3
    assert "line 3, column 4" in problem.msg


def test_malformed_json_gives_line_and_column() -> None:
    with pytest.raises(Invalid) as error:
        load_descriptor('{\n  "devices": [\n    {"name": "s1",}\n  ]\n}', "bad.json")
    [problem] = error.value.problems
    assert problem.line == 3
    assert problem.msg.startswith("invalid JSON")


def test_schema_error_gives_path_and_line() -> None:
    text = TRIANGLE.replace("- name: eth2\n", '- name: eth2\n        mac: "zz"\n')
    with pytest.raises(Invalid) as error:
        load_descriptor(text, "triangle.yaml")
    [problem] = error.value.problems
    assert problem.loc == ("devices", 0, "ports", 1, "mac")
    assert problem.line == 1 + text.splitlines().index('        mac: "zz"')
    assert str(problem).startswith(f"devices[0].ports[1].mac (line {problem.line}): String")


def test_every_schema_error_is_reported() -> None:
    text = "devices:\n  - name: s1\n    type: toaster\n  - nom: s2\n"
    with pytest.raises(Invalid) as error:
        load_descriptor(text)
    located = {(p.loc, p.line) for p in error.value.problems}
    assert (("devices", 0, "type"), 3) in located
    assert (("devices", 1, "name"), 4) in located  # missing: the line of its mapping
    assert (("devices", 1, "nom"), 4) in located


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text"])
def test_a_descriptor_must_be_a_mapping(text: str) -> None:
    with pytest.raises(Invalid) as error:
        load_descriptor(text)
    assert "mapping" in problem_of(error)


def test_dump_reloads_to_the_same_descriptor() -> None:
    descriptor, _ = load_descriptor(TRIANGLE)
    assert load_descriptor(dump_descriptor(descriptor))[0] == descriptor


# -- import ---------------------------------------------------------------------------


def test_import_creates_devices_ports_and_links(inventory: Inventory) -> None:
    result = inventory.load_topology(TRIANGLE, "triangle.yaml")
    assert (result.devices.created, result.endpoints.created, result.links.created) == (5, 10, 5)
    ports = {(p.device_id, p.name): p for p in inventory.list_endpoints()}
    s1 = device_id("s1")
    # declared eth1=1, eth2 numbered next; eth3 implied by a link, numbered after them
    assert [ports[(s1, n)].number for n in ("eth1", "eth2", "eth3")] == [1, 2, 3]
    h1_port = ports[(device_id("h1"), "eth0")]
    assert (h1_port.mac, h1_port.ip, h1_port.number) == ("00:00:00:00:00:01", "10.0.0.1/24", 1)
    assert ports[(device_id("h2"), "eth0")].speed_bps == 10**9
    assert inventory.get_device("h1").attributes == {"gateway": "10.0.0.254"}
    assert inventory.get_link("s1:eth1--s2:eth1").capacity_bps == 10**9
    assert inventory.get_link("s3-s1").a.endpoint_id == endpoint_id("s3", "eth2")


def test_reimport_changes_nothing_and_keeps_observed_state(
    inventory: Inventory, store: Store
) -> None:
    inventory.load_topology(TRIANGLE)
    with store.transaction() as tx:
        tx.links.update(tx.links.get(link_id("s3-s1")).model_copy(update={"status": OperStatus.UP}))
    before = snapshot(inventory)
    result = inventory.load_topology(TRIANGLE)
    assert (result.devices.unchanged, result.endpoints.unchanged, result.links.unchanged) == (
        5,
        10,
        5,
    )
    assert result.devices.created + result.devices.updated == 0
    assert snapshot(inventory) == before
    assert inventory.get_link("s3-s1").status is OperStatus.UP


def test_reimport_applies_changed_fields(inventory: Inventory) -> None:
    inventory.load_topology(TRIANGLE)
    result = inventory.load_topology(TRIANGLE.replace("latency_ms: 2.5", "latency_ms: 7"))
    assert (result.links.updated, result.links.unchanged) == (1, 4)
    assert inventory.get_link("s2:eth2--s3:eth1").latency_ms == 7


def test_a_bad_last_link_leaves_the_store_unchanged(inventory: Inventory) -> None:
    inventory.load_topology("devices: [{name: s0}]\n")
    before = snapshot(inventory)
    with pytest.raises(Invalid) as error:
        inventory.load_topology((FIXTURES / "bad_last_link.yaml").read_text())
    assert problem_of(error) == "links[1].b.device (line 7): no device named 's9'"
    assert snapshot(inventory) == before


def test_a_port_in_two_links_conflicts(inventory: Inventory) -> None:
    text = """
devices: [{name: s1}, {name: s2}, {name: s3}]
links:
  - {a: {device: s1, port: p1}, b: {device: s2, port: p1}}
  - {a: {device: s3, port: p1}, b: {device: s1, port: p1}}
"""
    with pytest.raises(Conflict) as error:
        inventory.load_topology(text)
    assert problem_of(error) == (
        "links[1].b.endpoint (line 5): port 'p1' is already used by link 's1:p1--s2:p1'"
    )
    assert snapshot(inventory) == Topology()


def test_a_link_may_join_devices_already_stored(inventory: Inventory) -> None:
    inventory.load_topology("devices: [{name: s1}]\n")
    result = inventory.load_topology(
        "devices: [{name: s2}]\nlinks: [{a: {device: s1, port: p}, b: {device: s2, port: p}}]\n"
    )
    assert (result.devices.created, result.endpoints.created, result.links.created) == (1, 2, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "devices: [{name: s1}, {name: s1}]",
            "devices[1].name (line 1): 's1' is declared 2 times",
        ),
        (
            "devices: [{name: s1, ports: [{name: p}, {name: p}]}]",
            "devices[0].ports[1].name (line 1): 'p' is declared 2 times",
        ),
        (
            "devices: [{name: s1, ports: [{name: p, number: 1}, {name: q, number: 1}]}]",
            "devices[0].ports[1].number (line 1): port number 1 is used by 'p'",
        ),
        (
            "devices: [{name: h1, type: host, ip: 10.0.0.1, ports: [{name: p}]}]",
            "devices[0].ip (line 1): '10.0.0.1' needs a prefix length, e.g. 10.0.0.1/24",
        ),
        (
            "devices: [{name: h1, type: host, ip: 10.0.0.1/24}]",
            "devices[0].ip (line 1): host 'h1' has no port to carry it",
        ),
        (
            "devices: [{name: s1, ip: 10.0.0.1/24, ports: [{name: p}]}]",
            "devices[0].ip (line 1): only hosts carry a device-level ip; set it on a port",
        ),
        (
            "devices: [{name: s1}]\nlinks: [{a: {device: s1, port: p}, b: {device: s1, port: p}}]",
            "links[0].b (line 2): is the same port as a: a link joins two different ports",
        ),
    ],
)
def test_bad_descriptors_are_refused_whole(inventory: Inventory, text: str, expected: str) -> None:
    with pytest.raises(InventoryError) as error:
        inventory.load_topology(text)
    assert problem_of(error) == expected
    assert snapshot(inventory) == Topology()


def test_export_reimports_to_the_same_topology(inventory: Inventory, tmp_path: Path) -> None:
    inventory.load_topology(TRIANGLE)
    exported = dump_descriptor(inventory.export_topology())
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        copy = Inventory(other, InProcessBus())
        copy.load_topology(exported)
        assert copy.topology() == inventory.topology()
        assert copy.export_topology() == inventory.export_topology()
    finally:
        other.close()


def test_reimport_may_move_links_to_other_ports(inventory: Inventory) -> None:
    inventory.load_topology(
        "devices: [{name: s1}, {name: s2}, {name: s3}]\n"
        "links: [{name: l1, a: {device: s1, port: p1}, b: {device: s2, port: p1}}]\n"
    )
    result = inventory.load_topology(
        "links:\n"
        "  - {name: l2, a: {device: s1, port: p1}, b: {device: s3, port: p1}}\n"
        "  - {name: l1, a: {device: s1, port: p2}, b: {device: s2, port: p1}}\n"
    )
    assert (result.links.created, result.links.updated) == (1, 1)
    assert inventory.get_link("l1").a.endpoint_id == endpoint_id("s1", "p2")
    assert inventory.get_link("l2").a.endpoint_id == endpoint_id("s1", "p1")
    with pytest.raises(Conflict) as error:
        inventory.load_topology(
            "links: [{name: l3, a: {device: s1, port: p1}, b: {device: s3, port: p2}}]\n"
        )
    assert (
        problem_of(error) == "links[0].a.endpoint (line 1): port 'p1' is already used by link 'l2'"
    )


def test_openflow_switches_get_the_labs_datapath_id(store: Store) -> None:
    inventory = Inventory(store, InProcessBus())
    named = DeviceSpec(name="s7", drivers=["openflow"])
    inventory.import_topology(TopologyDescriptor(devices=[named]))
    assert inventory.get_device("s7").attributes["datapath_id"] == named.datapath_id
    bad = DeviceSpec(name="s8", drivers=["openflow"], attributes={"datapath_id": "zz"})
    with pytest.raises(InventoryError) as caught:
        inventory.import_topology(TopologyDescriptor(devices=[bad]))
    assert "devices[0].attributes.datapath_id" in str(caught.value)
