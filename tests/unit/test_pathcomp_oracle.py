"""PathGraph against networkx (and exhaustive search) on seeded random topologies."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from itertools import combinations, islice, pairwise, product

import networkx as nx
import pytest

from netweave.model import Device, DeviceType, EndpointRef, Link
from netweave.pathcomp import Constraint, NoPathError, Path, PathGraph, PathRequest
from netweave.pathcomp._digraph import Digraph, LinkAttrs, build_digraph
from netweave.pathcomp._landmarks import Landmarks
from netweave.pathcomp._search import tight_route
from netweave.pathcomp._table import CostTable, forget_tables

GBPS = 10**9
SEEDS = [*range(50), 302]  # 302: a backup would reuse a zero-cost link the other way


class RandomNet:
    """A random switch graph with a few hosts, as a PathGraph and as a networkx Graph."""

    def __init__(self, seed: int, switches: int, links: int, hosts: int = 2) -> None:
        rng = random.Random(seed)
        capacities = random.Random(f"capacities {seed}")
        self.hosts = [f"h{i}" for i in range(hosts)]
        names = [f"s{i}" for i in range(switches)]
        pairs = set()
        while len(pairs) < links:
            a, b = rng.sample(names, 2)
            pairs.add((min(a, b), max(a, b)))
        pairs |= {(host, rng.choice(names)) for host in self.hosts}
        pairs |= {(host, rng.choice(names)) for host in self.hosts}  # some dual-homed
        self.nx = nx.Graph()
        self.nx.add_nodes_from(names + self.hosts)
        model_links = []
        for a, b in sorted(pairs):
            cost = float(rng.randint(0, 9))  # zero-cost links make ties and traps
            capacity = capacities.choice((1, 10, 100)) * GBPS
            self.nx.add_edge(a, b, cost=cost, id=f"{a}-{b}", capacity=capacity)
            model_links.append(
                Link(
                    id=f"{a}-{b}",
                    name=f"{a}-{b}",
                    a=EndpointRef(device_id=a, endpoint_id=f"{a}:{b}"),
                    b=EndpointRef(device_id=b, endpoint_id=f"{b}:{a}"),
                    cost=cost,
                    capacity_bps=capacity,
                )
            )
        self.devices = [
            Device(
                id=name, name=name, type=DeviceType.HOST if name[0] == "h" else DeviceType.SWITCH
            )
            for name in self.nx
        ]
        self.links = model_links
        self.graph = PathGraph(self.devices, model_links)
        self.endpoints = [tuple(rng.sample(sorted(self.nx), 2)) for _ in range(4)]

    def oracle(self, src: str, dst: str) -> nx.Graph:
        """The graph a path from src to dst may use: no other host in it."""
        return self.nx.subgraph(n for n in self.nx if n[0] != "h" or n in (src, dst))


def assert_valid(net: RandomNet, path: Path, src: str, dst: str) -> None:
    """A simple path from src to dst whose links join consecutive devices, costed right."""
    assert (path.device_ids[0], path.device_ids[-1]) == (src, dst)
    assert len(set(path.device_ids)) == len(path.device_ids)
    for (here, there), link_id in zip(pairwise(path.device_ids), path.link_ids, strict=True):
        assert link_id in (f"{here}-{there}", f"{there}-{here}")
    assert all(device[0] != "h" for device in path.device_ids[1:-1])
    costs = [net.nx.edges[tuple(link_id.split("-"))]["cost"] for link_id in path.link_ids]
    assert path.cost == pytest.approx(sum(costs))


def ask(net: RandomNet, src: str, dst: str, **constraints: object) -> list[Path] | None:
    try:
        return net.graph.compute(PathRequest(src_device_id=src, dst_device_id=dst, **constraints))
    except NoPathError as error:
        assert error.constraint in (Constraint.CONNECTIVITY, Constraint.DISJOINT)
        return None


@pytest.mark.parametrize("seed", SEEDS)
def test_k_shortest_costs_match_networkx(seed: int) -> None:
    net = RandomNet(seed, switches=12, links=20)
    for src, dst in net.endpoints:
        oracle = net.oracle(src, dst)
        paths = ask(net, src, dst, k=6)
        if not nx.has_path(oracle, src, dst):
            assert paths is None
            continue
        assert paths is not None
        expected = islice(nx.shortest_simple_paths(oracle, src, dst, weight="cost"), 6)
        expected_costs = [nx.path_weight(oracle, path, "cost") for path in expected]
        assert [path.cost for path in paths] == pytest.approx(expected_costs)
        assert paths[0].cost == pytest.approx(nx.dijkstra_path_length(oracle, src, dst, "cost"))
        assert len({path.link_ids for path in paths}) == len(paths)
        for path in paths:
            assert_valid(net, path, src, dst)


@pytest.mark.parametrize("seed", SEEDS)
def test_filtered_k_shortest_costs_match_networkx_on_the_filtered_graph(seed: int) -> None:
    net = RandomNet(seed, switches=12, links=24)
    pick = random.Random(f"filters {seed}")
    for src, dst in net.endpoints:
        excluded = pick.choice([n for n in net.nx if n not in (src, dst)])
        oracle = nx.subgraph_view(
            net.oracle(src, dst),
            filter_node=lambda node, excluded=excluded: node != excluded,
            filter_edge=lambda a, b: net.nx.edges[a, b]["capacity"] >= 10 * GBPS,
        )
        filters = {"bandwidth_bps": 10 * GBPS, "exclude_devices": (excluded,)}
        if not nx.has_path(oracle, src, dst):
            with pytest.raises(NoPathError):
                net.graph.compute(PathRequest(src_device_id=src, dst_device_id=dst, **filters))
            continue
        paths = net.graph.compute(PathRequest(src_device_id=src, dst_device_id=dst, k=4, **filters))
        expected = islice(nx.shortest_simple_paths(oracle, src, dst, weight="cost"), 4)
        assert [path.cost for path in paths] == pytest.approx(
            [nx.path_weight(oracle, path, "cost") for path in expected]
        )
        for path in paths:
            assert_valid(net, path, src, dst)
            assert excluded not in path.device_ids


@pytest.mark.parametrize("seed", SEEDS)
def test_landmark_bounds_are_consistent_lower_bounds(seed: int) -> None:
    rng = random.Random(seed)
    size = 30
    is_host = [i < 4 for i in range(size)]  # a few hosts; sparse, so often disconnected
    links = {
        i: LinkAttrs(*rng.sample(range(size), 2), rng.randint(0, 9), 0.0, 0) for i in range(40)
    }
    digraph = build_digraph(is_host, links, split_all=False)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(digraph.node_device)))
    for tail, head, cost in zip(digraph.arc_tail, digraph.arc_head, digraph.arc_cost, strict=True):
        if not graph.has_edge(tail, head) or graph[tail][head]["cost"] > cost:
            graph.add_edge(tail, head, cost=cost)
    landmarks = Landmarks(digraph, digraph.graph)
    for target in range(len(digraph.node_device)):
        estimate = landmarks.estimate_to(target)
        exact = nx.single_source_dijkstra_path_length(graph.reverse(), target, weight="cost")
        for node in graph:
            assert 0.0 <= estimate(node) <= exact.get(node, float("inf"))
        for tail, head, cost in graph.edges(data="cost"):
            assert estimate(tail) <= cost + estimate(head)


def best_disjoint_pair_cost(oracle: nx.Graph, src: str, dst: str, node: bool) -> float | None:
    """Exhaustively: the least total cost of two link- (or interior-node-) disjoint paths."""
    paths = list(nx.all_simple_paths(oracle, src, dst))
    best = None
    for first, second in combinations(paths, 2):
        if node:
            clash = bool(set(first[1:-1]) & set(second[1:-1]))
        else:
            links = [{frozenset(edge) for edge in pairwise(path)} for path in (first, second)]
            clash = bool(links[0] & links[1])
        if not clash:
            total = nx.path_weight(oracle, first, "cost") + nx.path_weight(oracle, second, "cost")
            best = total if best is None else min(best, total)
    return best


@pytest.mark.parametrize("kind", ["link", "node"])
@pytest.mark.parametrize("seed", SEEDS)
def test_disjoint_pair_total_cost_matches_exhaustive_search(seed: int, kind: str) -> None:
    net = RandomNet(seed, switches=8, links=13)
    for src, dst in net.endpoints:
        expected = best_disjoint_pair_cost(net.oracle(src, dst), src, dst, node=kind == "node")
        pair = ask(net, src, dst, disjoint=kind)
        if expected is None:
            assert pair is None
            continue
        assert pair is not None
        primary, backup = pair
        assert primary.cost + backup.cost == pytest.approx(expected)
        assert primary.cost <= backup.cost
        assert not set(primary.link_ids) & set(backup.link_ids)
        if kind == "node":
            assert not set(primary.device_ids[1:-1]) & set(backup.device_ids[1:-1])
        for path in pair:
            assert_valid(net, path, src, dst)


def random_digraph(seed: int) -> tuple[Digraph, list[int]]:
    """A sparse random digraph (hosts, zero costs, parallel links) and its arc bandwidths."""
    rng = random.Random(f"tight {seed}")
    size = 16
    is_host = [i < 3 for i in range(size)]
    links = {
        i: LinkAttrs(*rng.sample(range(size), 2), rng.randint(0, 4), 0.0, rng.choice((1, 10)))
        for i in range(30)
    }
    digraph = build_digraph(is_host, links, split_all=False)
    return digraph, digraph.arc_bps


def networkx_digraph(digraph: Digraph, allowed: Callable[[int], bool]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(digraph.node_device)))
    for arc, (tail, head) in enumerate(zip(digraph.arc_tail, digraph.arc_head, strict=True)):
        cost = digraph.arc_cost[arc]
        if allowed(arc) and (not graph.has_edge(tail, head) or graph[tail][head]["cost"] > cost):
            graph.add_edge(tail, head, cost=cost)
    return graph


@pytest.mark.parametrize("seed", SEEDS)
def test_tight_routes_are_least_cost_and_none_only_when_filters_cost_more(seed: int) -> None:
    digraph, bps = random_digraph(seed)
    table = CostTable(digraph)
    everything = networkx_digraph(digraph, lambda arc: True)
    wide = networkx_digraph(digraph, lambda arc: bps[arc] >= 10)
    for target in everything:
        costs = table.costs_to(target)
        exact = nx.shortest_path_length(everything.reverse(), target, weight="cost")
        assert [costs[node] for node in everything] == [exact.get(n, math.inf) for n in everything]
        for source, (allowed, oracle) in product(
            (node for node in everything if node != target),
            ((None, everything), (lambda arc: bps[arc] >= 10, wide)),
        ):
            route = tight_route(digraph, costs, source, target, allowed)
            if route is None:
                assert not nx.has_path(oracle, source, target) or (
                    nx.shortest_path_length(oracle, source, target, "cost") > costs[source]
                )
                continue
            assert (route.nodes[0], route.nodes[-1]) == (source, target)
            assert len(set(route.nodes)) == len(route.nodes)
            for (tail, head), arc in zip(pairwise(route.nodes), route.arcs, strict=True):
                assert (digraph.arc_tail[arc], digraph.arc_head[arc]) == (tail, head)
                assert allowed is None or allowed(arc)
            assert sum(digraph.arc_cost[arc] for arc in route.arcs) == costs[source]


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_graphs_too_big_for_a_table_give_paths_of_the_same_cost(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = RandomNet(seed, switches=12, links=24)
    wanted = [
        PathRequest(src_device_id=src, dst_device_id=dst, **constraints)
        for src, dst in net.endpoints
        for constraints in ({}, {"bandwidth_bps": 10 * GBPS}, {"k": 3}, {"disjoint": "link"})
    ]
    with_table = [ask_costs(net.graph, one) for one in wanted]
    monkeypatch.setattr("netweave.pathcomp._table.TABLE_MAX_NODES", 0)
    without = PathGraph(net.devices, net.links)
    assert [ask_costs(without, one) for one in wanted] == with_table
    assert without._landmarks is not None


def ask_costs(graph: PathGraph, request: PathRequest) -> list[float]:
    """The costs of the paths found; of a disjoint pair, its total (ties may split it)."""
    try:
        costs = [path.cost for path in graph.compute(request)]
    except NoPathError:
        return []
    return [sum(costs)] if request.disjoint else costs


def test_snapshots_differing_only_by_reservations_share_one_table() -> None:
    net = RandomNet(1, switches=12, links=24)
    forget_tables()
    first = PathGraph(net.devices, net.links)
    reserved = [link.model_copy(update={"reserved_bps": GBPS}) for link in net.links]
    second = PathGraph(net.devices, reserved)
    assert first._table is second._table
    costlier = [link.model_copy(update={"cost": link.cost + 1}) for link in net.links]
    assert PathGraph(net.devices, costlier)._table is not first._table


@pytest.mark.parametrize("seed", SEEDS)
def test_excluding_a_link_of_the_shortest_path_gives_the_next_best_cost(seed: int) -> None:
    net = RandomNet(seed, switches=12, links=24)
    for src, dst in net.endpoints:
        oracle = net.oracle(src, dst)
        if not nx.has_path(oracle, src, dst):
            continue
        [best] = net.graph.compute(PathRequest(src_device_id=src, dst_device_id=dst))
        for link_id in best.link_ids:
            a, b = link_id.split("-")
            without = nx.restricted_view(oracle, [], [(a, b)])
            wanted = PathRequest(src_device_id=src, dst_device_id=dst, exclude_links=(link_id,))
            if not nx.has_path(without, src, dst):
                with pytest.raises(NoPathError) as caught:
                    net.graph.compute(wanted)
                assert caught.value.constraint is Constraint.EXCLUDE_LINKS
                continue
            [path] = net.graph.compute(wanted)
            assert link_id not in path.link_ids
            assert path.cost == nx.dijkstra_path_length(without, src, dst, "cost")
            assert_valid(net, path, src, dst)


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_fractional_costs_still_walk_to_a_least_cost_path(seed: int) -> None:
    rng = random.Random(f"fractions {seed}")
    names = [f"s{i}" for i in range(30)]
    graph = nx.Graph()
    graph.add_nodes_from(names)
    links = []
    while len(links) < 70:
        a, b = sorted(rng.sample(names, 2))
        if graph.has_edge(a, b):
            continue
        cost = rng.choice((0.1, 0.2, 0.3, 0.7, 1.1, 1e-3, 1e3))  # sums that round
        graph.add_edge(a, b, cost=cost)
        ends = (
            EndpointRef(device_id=a, endpoint_id=f"{a}:{b}"),
            EndpointRef(device_id=b, endpoint_id=f"{b}:{a}"),
        )
        links.append(Link(id=f"{a}-{b}", name=f"{a}-{b}", a=ends[0], b=ends[1], cost=cost))
    paths = PathGraph([Device(id=name, name=name) for name in names], links)
    for src, dst in (rng.sample(names, 2) for _ in range(20)):
        if not nx.has_path(graph, src, dst):
            continue
        [path] = paths.compute(PathRequest(src_device_id=src, dst_device_id=dst))
        assert path.cost == pytest.approx(nx.dijkstra_path_length(graph, src, dst, "cost"))
