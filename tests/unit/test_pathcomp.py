"""PathGraph behaviour: constraints, no-path reasons, hosts, disjoint pairs, determinism."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import ValidationError

from netweave.model import Device, DeviceType, EndpointRef, Link, OperStatus, Topology
from netweave.model.ids import device_id, endpoint_id, link_id
from netweave.pathcomp import Constraint, NoPathError, Path, PathGraph, PathRequest

GBPS = 10**9
NAMES: dict[str, str] = {}  # device id -> name, of every device made here


def device(name: str) -> Device:
    kind = DeviceType.HOST if name.startswith("h") else DeviceType.SWITCH
    NAMES[device_id(name)] = name
    return Device(id=device_id(name), name=name, type=kind)


def link(spec: str, **attrs: Any) -> Link:
    """`spec` is "a-b" or "a-b.n" for the n-th parallel link between a and b."""
    a, b = spec.split(".")[0].split("-")
    return Link(
        id=link_id(spec),
        name=spec,
        a=EndpointRef(device_id=device_id(a), endpoint_id=endpoint_id(a, spec)),
        b=EndpointRef(device_id=device_id(b), endpoint_id=endpoint_id(b, spec)),
        **attrs,
    )


def network(*links: Link, search_limit: int = 100) -> PathGraph:
    names = {name for one in links for name in one.name.split(".")[0].split("-")}
    return PathGraph([device(name) for name in sorted(names)], links, search_limit=search_limit)


def request(src: str, dst: str, **constraints: Any) -> PathRequest:
    for field in ("exclude_devices", "exclude_links"):
        to_id = device_id if field == "exclude_devices" else link_id
        constraints[field] = tuple(to_id(name) for name in constraints.get(field, ()))
    return PathRequest(src_device_id=device_id(src), dst_device_id=device_id(dst), **constraints)


def hops_of(path: Path) -> str:
    return "-".join(NAMES[device] for device in path.device_ids)


def routes(graph: PathGraph, src: str, dst: str, **constraints: Any) -> list[str]:
    return [hops_of(path) for path in graph.compute(request(src, dst, **constraints))]


def refusal(graph: PathGraph, src: str, dst: str, **constraints: Any) -> NoPathError:
    with pytest.raises(NoPathError) as caught:
        graph.compute(request(src, dst, **constraints))
    return caught.value


def square() -> PathGraph:
    """s1-s2-s4 (cost 2, 1 Gbit/s, 10 ms) and s1-s3-s4 (cost 4, 10 Gbit/s, 2 ms)."""
    slow = {"capacity_bps": GBPS, "latency_ms": 5.0}
    fast = {"capacity_bps": 10 * GBPS, "latency_ms": 1.0, "cost": 2.0}
    return network(
        link("s1-s2", **slow),
        link("s2-s4", **slow),
        link("s1-s3", **fast),
        link("s3-s4", **fast),
    )


# --- paths -----------------------------------------------------------------------------


def test_shortest_path_follows_cost_not_hops() -> None:
    graph = network(link("s1-s4", cost=5.0), link("s1-s2"), link("s2-s3"), link("s3-s4"))
    [path] = graph.compute(request("s1", "s4"))
    assert hops_of(path) == "s1-s2-s3-s4"
    assert (path.cost, path.hops) == (3.0, 3)
    assert path.link_ids == (link_id("s1-s2"), link_id("s2-s3"), link_id("s3-s4"))


def test_path_reports_latency_cost_and_hops() -> None:
    [path] = square().compute(request("s1", "s4"))
    assert (path.latency_ms, path.cost, path.hops) == (10.0, 2.0, 2)
    assert path.model_dump()["hops"] == 2


def test_k_shortest_best_first_and_no_more_than_exist() -> None:
    graph = square()
    assert routes(graph, "s1", "s4", k=5) == ["s1-s2-s4", "s1-s3-s4"]
    assert routes(graph, "s4", "s1", k=1) == ["s4-s2-s1"]


def test_parallel_links_are_distinct_paths() -> None:
    graph = network(link("s1-s2.1"), link("s1-s2.2", cost=2.0))
    paths = graph.compute(request("s1", "s2", k=3))
    assert [path.link_ids for path in paths] == [(link_id("s1-s2.1"),), (link_id("s1-s2.2"),)]
    for kind in ("link", "node"):
        primary, backup = graph.compute_disjoint_pair(request("s1", "s2", disjoint=kind))
        assert (primary.link_ids, backup.link_ids) == ((link_id("s1-s2.1"),), (link_id("s1-s2.2"),))


def test_down_links_are_left_out() -> None:
    graph = network(link("s1-s2", status=OperStatus.DOWN), link("s1-s3"), link("s3-s2"))
    assert routes(graph, "s1", "s2", k=3) == ["s1-s3-s2"]


def test_hosts_end_paths_but_never_carry_them() -> None:
    graph = network(
        link("h1-s1", cost=0.1),
        link("h1-s2", cost=0.1),
        link("s1-s3", cost=5.0),
        link("s3-s2", cost=5.0),
        link("h2-s2"),
    )
    assert routes(graph, "s1", "s2", k=5) == ["s1-s3-s2"]
    assert routes(graph, "h1", "h2", k=5) == ["h1-s2-h2", "h1-s1-s3-s2-h2"]
    assert routes(graph, "h2", "h1", k=5) == ["h2-s2-h1", "h2-s2-s3-s1-h1"]


def test_from_topology_matches_constructor() -> None:
    links = [link("s1-s2"), link("s2-s4"), link("s1-s3", cost=2.0), link("s3-s4", cost=2.0)]
    devices = [device(name) for name in ("s1", "s2", "s3", "s4")]
    from_topology = PathGraph.from_topology(Topology(devices=devices, links=links))
    wanted = request("s1", "s4", k=2)
    assert from_topology.compute(wanted) == PathGraph(devices, links).compute(wanted)


# --- constraints -----------------------------------------------------------------------


def test_bandwidth_counts_unreserved_not_capacity() -> None:
    graph = network(
        link("s1-s2", capacity_bps=10 * GBPS, reserved_bps=9 * GBPS),
        link("s1-s3", capacity_bps=2 * GBPS, cost=3.0),
        link("s3-s2", capacity_bps=2 * GBPS, cost=3.0),
    )
    assert routes(graph, "s1", "s2", bandwidth_bps=GBPS) == ["s1-s2"]
    assert routes(graph, "s1", "s2", bandwidth_bps=GBPS + 1) == ["s1-s3-s2"]


def test_exclusions_are_avoided() -> None:
    graph = square()
    assert routes(graph, "s1", "s4", exclude_devices=["s2"]) == ["s1-s3-s4"]
    assert routes(graph, "s1", "s4", exclude_links=["s2-s4"]) == ["s1-s3-s4"]


def test_latency_and_hop_limits_pick_a_costlier_path() -> None:
    graph = square()
    assert routes(graph, "s1", "s4", max_latency_ms=2.0) == ["s1-s3-s4"]
    graph = network(link("s1-s4", cost=5.0), link("s1-s2"), link("s2-s3"), link("s3-s4"))
    assert routes(graph, "s1", "s4", max_hops=2, k=2) == ["s1-s4"]


def chain_of_parallel_links(*extra: Link, length: int = 7) -> list[Link]:
    """2**length cheap, slow paths from s0 to s<length>: more than a search limit of 100."""
    slow = {"latency_ms": 10.0}
    return [link(f"s{i}-s{i + 1}.{n}", **slow) for i in range(length) for n in (1, 2)] + list(extra)


def test_latency_limit_beyond_search_limit_falls_back_to_fastest_path() -> None:
    graph = network(*chain_of_parallel_links(link("s0-s7", cost=100.0, latency_ms=1.0)))
    assert routes(graph, "s0", "s7", max_latency_ms=5.0, k=3) == ["s0-s7"]


def test_combined_limits_beyond_search_limit_are_reported_as_such() -> None:
    links = chain_of_parallel_links(
        link("s0-s7", cost=1000.0, latency_ms=100.0),  # fewest hops, too slow
        *(link(f"x{i}-x{i + 1}", cost=50.0, latency_ms=0.1) for i in range(1, 9)),
        link("s0-x1", cost=50.0, latency_ms=0.1),  # fastest, too many hops
        link("x9-s7", cost=50.0, latency_ms=0.1),
        link("s0-y", cost=200.0, latency_ms=1.0),  # fits both, the 129th cheapest
        link("y-s7", cost=200.0, latency_ms=1.0),
    )
    limits = {"max_latency_ms": 5.0, "max_hops": 3}
    error = refusal(network(*links), "s0", "s7", **limits)
    assert error.constraint is Constraint.SEARCH_LIMIT
    assert "100 lowest-cost paths between s0 and s7" in error.reason
    assert routes(network(*links, search_limit=200), "s0", "s7", **limits) == ["s0-y-s7"]


# --- no-path reasons -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraints", "constraint", "reason"),
    [
        ({"src": "s9"}, Constraint.SRC_DEVICE_ID, f"unknown device '{device_id('s9')}'"),
        ({"dst": "s9"}, Constraint.DST_DEVICE_ID, f"unknown device '{device_id('s9')}'"),
        (
            {"exclude_devices": ["s9"]},
            Constraint.EXCLUDE_DEVICES,
            f"unknown device '{device_id('s9')}'",
        ),
        (
            {"exclude_devices": ["s9"], "disjoint": "node"},
            Constraint.EXCLUDE_DEVICES,
            f"unknown device '{device_id('s9')}'",
        ),
        (
            {"exclude_links": ["s1-s9"]},
            Constraint.EXCLUDE_LINKS,
            f"unknown link '{link_id('s1-s9')}'",
        ),
        (
            {"exclude_devices": ["s4"]},
            Constraint.EXCLUDE_DEVICES,
            "dst_device_id s4 is itself excluded",
        ),
        (
            {"exclude_devices": ["s2", "s3"]},
            Constraint.EXCLUDE_DEVICES,
            "s1 and s4 are only connected through excluded devices",
        ),
        (
            {"exclude_links": ["s1-s2", "s3-s4"]},
            Constraint.EXCLUDE_LINKS,
            "s1 and s4 are only connected through excluded links",
        ),
        (
            {"bandwidth_bps": 20 * GBPS},
            Constraint.BANDWIDTH,
            "no path with 20 Gbit/s unreserved between s1 and s4 (best available 10 Gbit/s)",
        ),
        (
            {"bandwidth_bps": 5 * GBPS, "exclude_devices": ["s3"]},
            Constraint.BANDWIDTH,
            "no path with 5 Gbit/s unreserved between s1 and s4 (best available 1 Gbit/s)",
        ),
        (
            {"max_latency_ms": 1.5},
            Constraint.MAX_LATENCY,
            "no path within 1.5 ms between s1 and s4 (lowest latency 2 ms)",
        ),
        (
            {"max_hops": 1},
            Constraint.MAX_HOPS,
            "no path within 1 hops between s1 and s4 (fewest 2)",
        ),
        (
            {"max_latency_ms": 5.0, "exclude_devices": ["s3"]},
            Constraint.MAX_LATENCY,
            "no path within 5 ms between s1 and s4 (lowest latency 10 ms)",
        ),
        ({"disjoint": "node", "exclude_links": ["s3-s4"]}, Constraint.DISJOINT, ""),
    ],
)
def test_every_refusal_names_its_constraint(
    constraints: dict[str, Any], constraint: Constraint, reason: str
) -> None:
    src, dst = constraints.pop("src", "s1"), constraints.pop("dst", "s4")
    error = refusal(square(), src, dst, **constraints)
    assert error.constraint is constraint
    assert reason in error.reason
    assert str(error) == f"{constraint}: {error.reason}"


def test_disconnected_devices_are_refused_for_connectivity() -> None:
    graph = network(link("s1-s2"), link("s3-s4", status=OperStatus.DOWN), link("s4-s5"))
    error = refusal(graph, "s1", "s4", bandwidth_bps=GBPS, exclude_devices=["s2"])
    assert error.constraint is Constraint.CONNECTIVITY
    assert error.reason == "s1 and s4 are not connected (down links left out)"


def test_graphs_without_links_refuse_for_connectivity() -> None:
    assert refusal(PathGraph([], []), "s1", "s2").constraint is Constraint.SRC_DEVICE_ID
    graph = PathGraph([device("s1"), device("h2")], [])
    for disjoint in (None, "link", "node"):
        error = refusal(graph, "s1", "h2", disjoint=disjoint)
        assert error.constraint is Constraint.CONNECTIVITY


def test_links_without_capacity_carry_no_bandwidth() -> None:
    error = refusal(network(link("s1-s2")), "s1", "s2", bandwidth_bps=1)
    assert (
        error.reason == "no path with 1 bit/s unreserved between s1 and s2 (best available 0 bit/s)"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dst_device_id": device_id("s1")}, "dst_device_id: must differ from src_device_id"),
        ({"k": 2, "disjoint": "link"}, "k: must be 1 when disjoint is set"),
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"bandwidth_bps": -1}, "bandwidth_bps"),
        ({"max_latency_ms": 0}, "max_latency_ms"),
        ({"max_hops": 0}, "max_hops"),
        ({"disjoint": "path"}, "disjoint"),
        ({"priority": 1}, "priority"),
    ],
)
def test_bad_requests_name_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PathRequest(
            **{"src_device_id": device_id("s1"), "dst_device_id": device_id("s2"), **fields}
        )


def test_bad_graph_inputs_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="link 's1-s2': end b is on unknown device"):
        PathGraph([device("s1")], [link("s1-s2")])
    with pytest.raises(ValueError, match="search_limit: must be at least 100, got 10"):
        PathGraph([], [], search_limit=10)


# --- disjoint pairs --------------------------------------------------------------------


def test_disjoint_pair_in_compute_is_primary_then_backup() -> None:
    graph = square()
    assert routes(graph, "s1", "s4", disjoint="link") == ["s1-s2-s4", "s1-s3-s4"]
    assert graph.compute(request("s1", "s4", disjoint="node")) == list(
        graph.compute_disjoint_pair(request("s1", "s4", disjoint="node"))
    )


def test_disjoint_pair_defaults_to_link_disjoint() -> None:
    primary, backup = square().compute_disjoint_pair(request("s1", "s4"))
    assert (hops_of(primary), hops_of(backup)) == ("s1-s2-s4", "s1-s3-s4")


def trap() -> PathGraph:
    """The shortest path s-a-b-t blocks every backup; s-a-t with s-b-t is the disjoint pair."""
    return network(
        link("s-a"), link("a-b"), link("b-t"), link("a-t", cost=3.0), link("s-b", cost=3.0)
    )


@pytest.mark.parametrize("kind", ["link", "node"])
def test_disjoint_pair_escapes_the_trap_topology(kind: str) -> None:
    graph = trap()
    assert routes(graph, "s", "t") == ["s-a-b-t"]
    primary, backup = graph.compute_disjoint_pair(request("s", "t", disjoint=kind))
    assert {hops_of(primary), hops_of(backup)} == {"s-a-t", "s-b-t"}
    assert (primary.cost, backup.cost) == (4.0, 4.0)
    assert (primary.cost, primary.hops, primary.link_ids) < (
        backup.cost,
        backup.hops,
        backup.link_ids,
    )


def bowtie() -> PathGraph:
    """Two link-disjoint paths from s to t, both through m."""
    spokes = ("s-a", "s-b", "a-m", "b-m", "m-c", "m-d", "c-t", "d-t")
    return network(*(link(spec) for spec in spokes))


def test_link_disjoint_pair_may_share_a_device_node_disjoint_may_not() -> None:
    primary, backup = bowtie().compute_disjoint_pair(request("s", "t", disjoint="link"))
    assert {hops_of(primary), hops_of(backup)} == {"s-a-m-c-t", "s-b-m-d-t"}
    assert not set(primary.link_ids) & set(backup.link_ids)
    error = refusal(bowtie(), "s", "t", disjoint="node")
    assert error.constraint is Constraint.DISJOINT
    assert error.reason == "no node-disjoint backup path between s and t"


def test_disjoint_refusal_mentions_the_filters_applied() -> None:
    error = refusal(square(), "s1", "s4", disjoint="link", bandwidth_bps=2 * GBPS)
    assert error.reason == (
        "no link-disjoint backup path between s1 and s4 (with bandwidth_bps applied)"
    )


def test_disjoint_pair_checks_limits_on_both_paths() -> None:
    error = refusal(square(), "s1", "s4", disjoint="link", max_latency_ms=5.0)
    assert error.constraint is Constraint.MAX_LATENCY
    assert error.reason == (
        "the least-cost link-disjoint pair between s1 and s4 breaks max_latency_ms:"
        " its primary path has 10 ms over 2 hops"
    )
    error = refusal(trap(), "s", "t", disjoint="node", max_hops=1)
    assert error.constraint is Constraint.MAX_HOPS


def test_dual_homed_hosts_get_node_disjoint_pairs_through_switches_only() -> None:
    graph = network(
        link("h1-s1"), link("h1-s2"), link("s1-s3"), link("s2-s4"), link("s3-h2"), link("s4-h2")
    )
    primary, backup = graph.compute_disjoint_pair(request("h1", "h2", disjoint="node"))
    assert {hops_of(primary), hops_of(backup)} == {"h1-s1-s3-h2", "h1-s2-s4-h2"}


# --- determinism -----------------------------------------------------------------------


def grid(size: int) -> list[Link]:
    """A size x size grid of unit-cost links: many equal-cost paths."""
    links = []
    for row in range(size):
        for col in range(size):
            here = f"s{row * size + col}"
            if col + 1 < size:
                links.append(link(f"{here}-s{row * size + col + 1}"))
            if row + 1 < size:
                links.append(link(f"{here}-s{(row + 1) * size + col}"))
    return links


def test_ties_are_broken_the_same_whatever_the_input_order() -> None:
    links = grid(3)
    devices = [device(f"s{i}") for i in range(9)]
    wanted = [request("s0", "s8", k=6), request("s0", "s8", disjoint="link")]
    wanted.append(request("s0", "s8", disjoint="node"))
    expected = [PathGraph(devices, links).compute(one) for one in wanted]
    assert [path.cost for path in expected[0]] == [4.0] * 6
    shuffler = random.Random(7)
    for _ in range(5):
        shuffler.shuffle(links)
        shuffler.shuffle(devices)
        assert [PathGraph(devices, links).compute(one) for one in wanted] == expected


def test_answers_do_not_depend_on_earlier_requests() -> None:
    devices, links = [device(f"s{i}") for i in range(16)], grid(4)
    wanted = request("s0", "s15", k=5, exclude_devices=["s5"])
    fresh = PathGraph(devices, links).compute(wanted)
    used = PathGraph(devices, links)
    for other in (request("s3", "s15"), request("s0", "s15", k=3), request("s1", "s15", k=2)):
        used.compute(other)
    assert used.compute(wanted) == fresh
    assert used.compute(wanted) == fresh


def test_fewer_paths_are_a_prefix_of_more_paths() -> None:
    graph = PathGraph([device(f"s{i}") for i in range(16)], grid(4))
    every = graph.compute(request("s0", "s15", k=30))
    assert len({path.link_ids for path in every}) == 30
    assert [path.cost for path in every] == sorted(path.cost for path in every)
    for k in (1, 2, 7, 20):
        assert graph.compute(request("s0", "s15", k=k)) == every[:k]
