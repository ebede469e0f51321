"""Planning a lab: names, port numbers, datapath ids, and every descriptor error with its
field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netweave.inventory import load_descriptor
from netweave.lab import DescriptorError, plan_lab
from netweave.lab.naming import is_ifname
from netweave.model import DeviceSpec, TopologyDescriptor

EXAMPLES = Path(__file__).parents[2] / "examples"
PREFIX = "nlabcdef"


def link(a: str, b: str, **extra: Any) -> dict[str, Any]:
    (ad, ap), (bd, bp) = a.split(":"), b.split(":")
    return {"a": {"device": ad, "port": ap}, "b": {"device": bd, "port": bp}, **extra}


def topology(devices: list[dict[str, Any]], links: list[dict[str, Any]]) -> TopologyDescriptor:
    return TopologyDescriptor.model_validate({"name": "t", "devices": devices, "links": links})


def pair(**h1: Any) -> TopologyDescriptor:
    """s1 with hosts h1 (extra fields `h1`) and h2."""
    return topology(
        [
            {"name": "s1"},
            {"name": "h1", "type": "host", **h1},
            {"name": "h2", "type": "host", "ip": "10.0.0.2/24"},
        ],
        [link("h1:eth0", "s1:p1"), link("s1:p2", "h2:eth0")],
    )


def error_of(descriptor: TopologyDescriptor) -> str:
    with pytest.raises(DescriptorError) as caught:
        plan_lab(descriptor, PREFIX)
    return str(caught.value)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_plans_with_the_declared_port_numbers(example: str) -> None:
    path = EXAMPLES / example
    descriptor, _ = load_descriptor(path.read_text(), str(path))

    plan = plan_lab(descriptor, PREFIX)

    declared = {(d.name, p.name): p.number for d in descriptor.devices for p in d.ports if p.number}
    ends = [end for link in plan.links for end in link.ends]
    assert all(end.ofport == declared[(end.device, end.port)] for end in ends if end.bridge)
    assert all(is_ifname(end.ifname) for end in ends)
    assert len(plan.hosts) >= 2
    assert all(h.ip and h.ip.startswith("10.0.0.") for h in plan.hosts)


def test_a_pair_plans_namespaces_bridges_and_veths() -> None:
    plan = plan_lab(pair(ip="10.0.0.1/24", mac="00:00:00:00:00:01"), PREFIX)

    assert [(s.name, s.bridge) for s in plan.switches] == [("s1", "nlabcdefs1")]
    h1 = plan.hosts[0]
    assert (h1.netns, h1.ifname, h1.ip) == ("nlabcdef-h1", "eth0", "10.0.0.1/24")
    first = plan.links[0]
    assert (first.a.netns, first.a.ifname, first.a.mac) == (h1.netns, "eth0", "00:00:00:00:00:01")
    assert (first.b.bridge, first.b.ifname, first.b.ofport) == ("nlabcdefs1", "nlabcdefl1b", 1)
    assert plan.root_ifnames == plan.veth_handles == ["nlabcdefl1b", "nlabcdefl2a"]


def test_one_end_of_each_veth_pair_is_enough_to_delete_it() -> None:
    descriptor = topology(
        [
            {"name": "s1"},
            {"name": "s2"},
            {"name": "h1", "type": "host"},
            {"name": "h2", "type": "host"},
        ],
        [link("s1:p1", "s2:p1"), link("h1:eth0", "h2:eth0"), link("h1:eth1", "s2:p2")],
    )

    plan = plan_lab(descriptor, "nl1")

    assert plan.root_ifnames == ["nl1l1a", "nl1l1b", "nl1l3b"]
    assert plan.veth_handles == ["nl1l1a", "nl1l3b"]


def test_free_port_numbers_go_to_undeclared_ports_in_order() -> None:
    descriptor = topology(
        [
            {"name": "s1", "ports": [{"name": "x"}, {"name": "y", "number": 1}]},
            {"name": "s2"},
        ],
        [link("s1:z", "s2:a"), link("s1:x", "s2:b"), link("s1:y", "s2:c")],
    )

    ofports = {
        (e.device, e.port): e.ofport for lk in plan_lab(descriptor, PREFIX).links for e in lk.ends
    }

    assert ofports == {
        ("s1", "x"): 2,
        ("s1", "y"): 1,
        ("s1", "z"): 3,
        ("s2", "a"): 1,
        ("s2", "b"): 2,
        ("s2", "c"): 3,
    }


def test_datapath_id_comes_from_the_attribute_or_the_name() -> None:
    given = DeviceSpec(name="s1", attributes={"datapath_id": "0x00:00:00:00:00:00:00:2A"})
    derived = DeviceSpec(name="s1")

    assert given.datapath_id == "000000000000002a"
    assert (
        derived.datapath_id
        == DeviceSpec(name="s1").datapath_id
        != DeviceSpec(name="s2").datapath_id
    )
    assert len(derived.datapath_id) == 16


@pytest.mark.parametrize(
    ("descriptor", "message"),
    [
        (
            topology([{"name": "s1"}, {"name": "s1"}], []),
            "devices[1].name: duplicate device 's1'",
        ),
        (
            topology([{"name": "s1", "ports": [{"name": "p"}, {"name": "p"}]}], []),
            "devices[0].ports[1].name: duplicate port 'p'",
        ),
        (
            topology([{"name": "r1", "type": "router"}], []),
            "devices[0].type: the lab builds switch, host and compute devices, not 'router'",
        ),
        (
            topology([{"name": "s1"}], [link("s1:p1", "s9:p1")]),
            "links[0].b.device: unknown device 's9'",
        ),
        (
            topology(
                [{"name": "s1"}, {"name": "s2"}], [link("s1:p1", "s2:p1"), link("s1:p1", "s2:p2")]
            ),
            "links[1].a.port: port s1:p1 is already used by links[0]",
        ),
        (
            topology(
                [{"name": "s1", "ports": [{"name": "a", "number": 3}, {"name": "b", "number": 3}]}],
                [],
            ),
            "devices[0].ports[1].number: port number 3 is used twice",
        ),
        (
            topology([{"name": "s1", "ports": [{"name": "a", "number": 0}]}], []),
            "devices[0].ports[0].number: must be between 1 and 65279",
        ),
        (
            topology([{"name": "s1", "attributes": {"datapath_id": "xyz"}}], []),
            "devices[0].attributes.datapath_id: 'xyz' is not a non-zero 64-bit hex number",
        ),
        (
            topology(
                [
                    {"name": "s1", "attributes": {"datapath_id": "1"}},
                    {"name": "s2", "attributes": {"datapath_id": "0x1"}},
                ],
                [],
            ),
            "devices[1].attributes.datapath_id: 0000000000000001 is already the datapath id",
        ),
        (pair(ip="10.0.0.1"), "devices[1].ip: give the address in CIDR form, e.g. 10.0.0.1/24"),
        (pair(ip="10.0.0.300/24"), "devices[1].ip: "),
        (
            pair(ip="10.0.0.1/24", gateway="10.9.0.1"),
            "devices[1].gateway: 10.9.0.1 is not in the host's network 10.0.0.0/24",
        ),
        (pair(gateway="10.0.0.254"), "devices[1].gateway: needs an ip on the host"),
        (
            topology([{"name": "h1", "type": "host", "ip": "10.0.0.1/24"}], []),
            "devices[0].ip: the host has no link to carry this address",
        ),
        (
            pair(mac="00:00:00:00:00:01", ports=[{"name": "eth0", "mac": "00:00:00:00:00:02"}]),
            "devices[1].mac: differs from the MAC of its port 'eth0'",
        ),
        (
            topology(
                [{"name": "s1"}, {"name": "h1", "type": "host"}],
                [link("s1:p1", "h1:a-very-long-name0")],
            ),
            "links[0].b.port: 'a-very-long-name0' cannot name an interface of a host",
        ),
        (
            topology([{"name": "s1"}, {"name": "h1", "type": "host"}], [link("s1:p1", "h1:lo")]),
            "links[0].b.port: 'lo' cannot name an interface of a host",
        ),
        (
            topology(
                [{"name": "s1"}, {"name": "s2"}],
                [link("s1:p1", "s2:p1", rate_limit_bps=0)],
            ),
            "links[0].rate_limit_bps: must be positive",
        ),
        (
            topology([{"name": "h/1", "type": "host"}, {"name": "h:1", "type": "host"}], []),
            "devices[1].name: 'h:1' and 'h/1' map to one namespace 'nlabcdef-h_1'",
        ),
    ],
)
def test_descriptor_errors_name_the_field_and_the_reason(
    descriptor: TopologyDescriptor, message: str
) -> None:
    assert error_of(descriptor).startswith(message)
