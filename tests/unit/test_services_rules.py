"""Rule building for a point-to-point service and the VLAN pool: exact rules expected."""

from __future__ import annotations

import pytest

from netweave.model import Connection, Hop
from netweave.model.ids import rule_id
from netweave.services.base import owner_of, service_of
from netweave.services.errors import ResourceConflict
from netweave.services.l2vpn import l2vpn_rules
from netweave.services.p2p import p2p_rules
from netweave.services.vlans import VlanPool

OWNER = owner_of("svc")
PORTS = {"a-edge": 3, "a-up": 1, "b-down": 1, "b-up": 2, "c-down": 2, "c-edge": 3}


def connection(*hops: tuple[str, str, str], vlan: int = 100) -> Connection:
    return Connection(
        id="c",
        name="primary",
        service_id="svc",
        hops=[Hop(device_id=d, ingress_endpoint_id=i, egress_endpoint_id=e) for d, i, e in hops],
        vlan_id=vlan,
    )


THREE = connection(("A", "a-edge", "a-up"), ("B", "b-down", "b-up"), ("C", "c-down", "c-edge"))


def flow(
    match: dict[str, int], actions: list[dict[str, object]], **extra: int
) -> dict[str, object]:
    return {
        "kind": "flow",
        "table_id": 0,
        "priority": 30000,
        "match": match,
        "actions": actions,
        **extra,
        "idle_timeout": 0,
        "hard_timeout": 0,
    }


def out(port: int) -> dict[str, object]:
    return {"type": "output", "port": port}


PUSH = [
    {"type": "push_vlan", "ethertype": 0x8100},
    {"type": "set_field", "field": "vlan_vid", "value": 100},
]
POP = {"type": "pop_vlan"}


def test_three_switch_path_tags_forwards_and_untags_both_ways() -> None:
    rules = p2p_rules(OWNER, [THREE], PORTS, None)
    assert [(r.device_id, r.value) for r in rules] == [
        ("A", flow({"in_port": 3}, [*PUSH, out(1)])),
        ("B", flow({"in_port": 1, "vlan_vid": 100}, [out(2)])),
        ("C", flow({"in_port": 2, "vlan_vid": 100}, [POP, out(3)])),
        ("C", flow({"in_port": 3}, [*PUSH, out(2)])),
        ("B", flow({"in_port": 2, "vlan_vid": 100}, [out(1)])),
        ("A", flow({"in_port": 1, "vlan_vid": 100}, [POP, out(3)])),
    ]
    assert all(r.owner == OWNER and r.id == rule_id(OWNER, r.device_id, r.key) for r in rules)
    assert rules[1].key == "/flow/table=0/priority=30000/match=in_port=1,vlan_vid=100"


def test_bandwidth_meters_each_direction_at_its_ingress() -> None:
    rules = p2p_rules(OWNER, [THREE], PORTS, 10_000_500)
    meters = [(r.device_id, r.value) for r in rules if r.value["kind"] == "meter"]
    assert meters == [
        ("A", {"kind": "meter", "meter_id": 200, "rate_kbps": 10_001, "burst_kbits": 2500}),
        ("C", {"kind": "meter", "meter_id": 201, "rate_kbps": 10_001, "burst_kbits": 2500}),
    ]
    metered = [(r.device_id, r.value.get("meter_id")) for r in rules if r.value["kind"] == "flow"]
    assert metered == [("A", 200), ("B", None), ("C", None), ("C", 201), ("B", None), ("A", None)]


def test_one_switch_service_needs_no_tag() -> None:
    single = connection(("A", "a-edge", "a-up"), vlan=7)
    rules = p2p_rules(OWNER, [single], PORTS, None)
    assert [(r.device_id, r.value["match"], r.value["actions"]) for r in rules] == [
        ("A", {"in_port": 3}, [out(1)]),
        ("A", {"in_port": 1}, [out(3)]),
    ]


def test_owner_names_the_service() -> None:
    assert service_of(owner_of("x")) == "x"
    assert service_of("forwarding") is None


def test_vlan_pool_hands_out_the_lowest_free_id_and_takes_them_back() -> None:
    pool = VlanPool([100, 102], first=100, last=104)
    assert [pool.take(), pool.take(), pool.take()] == [101, 103, 104]
    pool.give_back(101)
    assert pool.take() == 101
    with pytest.raises(ResourceConflict, match="all VLAN ids 100-104 are in use"):
        pool.take()
    with pytest.raises(ValueError, match="VLAN range 0-5"):
        VlanPool([], first=0, last=5)


def test_protected_service_fails_over_at_every_primary_switch() -> None:
    ports = PORTS | {"a-alt": 2, "d-down": 1, "d-up": 2, "c-alt": 1}
    backup = connection(
        ("A", "a-edge", "a-alt"), ("D", "d-down", "d-up"), ("C", "c-alt", "c-edge"), vlan=101
    )
    rules = [(r.device_id, r.value) for r in p2p_rules(OWNER, [THREE, backup], ports, None)]

    def tagged(vlan: int, port: int) -> list[dict[str, object]]:
        return [{"type": "push_vlan", "ethertype": 0x8100}, {"type": "set_field",
                "field": "vlan_vid", "value": vlan}, out(port)]  # fmt: skip

    def group(ident: int, *buckets: tuple[int, list[dict[str, object]]]) -> dict[str, object]:
        live = [{"weight": 0, "watch_port": port, "actions": acts} for port, acts in buckets]
        return {"kind": "group", "group_id": ident, "type": "ff", "buckets": live}

    def to(ident: int) -> list[dict[str, object]]:
        return [{"type": "group", "group_id": ident}]

    back = {"type": "output", "port": "in_port"}
    assert rules == [
        # A -> C: VLAN 100; B cranks back to A, which puts frames on A - D - C
        ("A", group(200, (1, tagged(100, 1)), (2, tagged(100, 2)))),
        ("A", flow({"in_port": 3}, to(200))),
        ("A", flow({"in_port": 1, "vlan_vid": 100}, [out(2)])),
        ("B", group(200, (2, [out(2)]), (1, [back]))),
        ("B", flow({"in_port": 1, "vlan_vid": 100}, to(200))),
        ("B", flow({"in_port": 2, "vlan_vid": 100}, [out(1)])),
        ("C", flow({"in_port": 2, "vlan_vid": 100}, [POP, out(3)])),
        ("D", flow({"in_port": 1, "vlan_vid": 100}, [out(2)])),
        ("C", flow({"in_port": 1, "vlan_vid": 100}, [POP, out(3)])),
        # C -> A: VLAN 101 (the backup's), the same in reverse
        ("C", group(201, (2, tagged(101, 2)), (1, tagged(101, 1)))),
        ("C", flow({"in_port": 3}, to(201))),
        ("C", flow({"in_port": 2, "vlan_vid": 101}, [out(1)])),
        ("B", group(201, (1, [out(1)]), (2, [back]))),
        ("B", flow({"in_port": 2, "vlan_vid": 101}, to(201))),
        ("B", flow({"in_port": 1, "vlan_vid": 101}, [out(2)])),
        ("A", flow({"in_port": 1, "vlan_vid": 101}, [POP, out(3)])),
        ("D", flow({"in_port": 2, "vlan_vid": 101}, [out(1)])),
        ("A", flow({"in_port": 2, "vlan_vid": 101}, [POP, out(3)])),
    ]


def test_l2vpn_floods_over_the_tree_of_its_branches() -> None:
    ports = PORTS | {"a-edge2": 4, "b-side": 3, "e-down": 1, "e-edge": 5}
    branches = [
        connection(("A", "a-edge", "a-up"), ("B", "b-down", "b-up"), ("C", "c-down", "c-edge")),
        # shares A - B with the first branch, so it joins the tree at B
        connection(("A", "a-edge", "a-up"), ("B", "b-down", "b-side"), ("E", "e-down", "e-edge")),
        connection(("A", "a-edge", "a-edge2")),  # an endpoint on the root switch
    ]
    rules = l2vpn_rules(OWNER, branches, ports)
    tag = PUSH
    assert [(r.device_id, r.value["match"], r.value["actions"]) for r in rules] == [
        ("A", {"in_port": 3}, [out(4), *tag, out(1)]),
        ("A", {"in_port": 4}, [out(3), *tag, out(1)]),
        ("A", {"in_port": 1, "vlan_vid": 100}, [POP, out(3), out(4)]),
        ("B", {"in_port": 1, "vlan_vid": 100}, [out(2), out(3)]),
        ("B", {"in_port": 2, "vlan_vid": 100}, [out(1), out(3)]),
        ("B", {"in_port": 3, "vlan_vid": 100}, [out(1), out(2)]),
        ("C", {"in_port": 3}, [*tag, out(2)]),
        ("C", {"in_port": 2, "vlan_vid": 100}, [POP, out(3)]),
        ("E", {"in_port": 5}, [*tag, out(1)]),
        ("E", {"in_port": 1, "vlan_vid": 100}, [POP, out(5)]),
    ]
