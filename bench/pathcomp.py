"""Path computation: netweave's PathGraph (rustworkx) vs networkx, same graph, same run.

Run: ``python -m bench.pathcomp [--quick] [--seed N]``. A seeded random network of
1,000 switches and 4,000 links (a ring, so every pair has a link-disjoint pair, plus
random chords; integer costs 1-20) answers the same random source/destination pairs,
each through netweave's public API (request validation and `Path` objects included) and
through the networkx call a user would reach for:

- shortest path: ``PathGraph.compute`` vs ``networkx.shortest_path(weight=...)``, and
  vs ``networkx.bidirectional_dijkstra``, networkx's fastest single-pair search;
- 4 shortest simple paths: ``compute(k=4)`` vs ``networkx.shortest_simple_paths``;
- least-cost link-disjoint pair: ``compute_disjoint_pair`` (Suurballe) vs networkx's
  exact method, a two-unit ``networkx.min_cost_flow`` walked into two paths.

Every answer's cost is checked against the baseline's before any time is printed.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from itertools import islice
from typing import Any

import networkx as nx

from netweave.model import Device, EndpointRef, Link
from netweave.pathcomp import PathGraph, PathRequest

NODES, LINKS = 1_000, 4_000
GBPS = 10**9


def topology(seed: int) -> tuple[list[Device], list[Link]]:
    rng = random.Random(seed)
    names = [f"s{i}" for i in range(NODES)]
    ends = {(names[i], names[(i + 1) % NODES]) for i in range(NODES)}
    while len(ends) < LINKS:
        a, b = rng.sample(names, 2)
        if (b, a) not in ends:
            ends.add((a, b))
    links = [
        Link(
            id=f"{a}-{b}",
            name=f"{a}-{b}",
            a=EndpointRef(device_id=a, endpoint_id=f"{a}:{b}"),
            b=EndpointRef(device_id=b, endpoint_id=f"{b}:{a}"),
            cost=float(rng.randint(1, 20)),
            capacity_bps=rng.choice((GBPS, 10 * GBPS, 100 * GBPS)),
        )
        for a, b in sorted(ends)
    ]
    return [Device(id=name, name=name) for name in names], links


def networkx_graph(links: Sequence[Link]) -> nx.Graph:
    graph = nx.Graph()
    for link in links:
        graph.add_edge(
            link.a.device_id,
            link.b.device_id,
            cost=int(link.cost),
            capacity=1,
            unreserved_bps=link.unreserved_bps,
        )
    return graph


def nx_shortest(graph: nx.Graph, src: str, dst: str) -> list[float]:
    return [nx.path_weight(graph, nx.shortest_path(graph, src, dst, "cost"), "cost")]


def nx_bidirectional(graph: nx.Graph, src: str, dst: str) -> list[float]:
    return [nx.bidirectional_dijkstra(graph, src, dst, "cost")[0]]


def nx_wide_shortest(graph: nx.Graph, src: str, dst: str) -> list[float]:
    """Shortest path over links with 10 Gbit/s unreserved (a weight of None hides a link)."""

    def cost(_: str, __: str, link: dict[str, int]) -> int | None:
        return link["cost"] if link["unreserved_bps"] >= 10 * GBPS else None

    return [nx.path_weight(graph, nx.shortest_path(graph, src, dst, cost), "cost")]


def nx_k_shortest(graph: nx.Graph, src: str, dst: str) -> list[float]:
    paths = islice(nx.shortest_simple_paths(graph, src, dst, "cost"), 4)
    return [nx.path_weight(graph, path, "cost") for path in paths]


def nx_disjoint_pair(flow_graph: nx.DiGraph, src: str, dst: str) -> list[float]:
    """Two link-disjoint paths of least total cost: a two-unit min-cost flow, walked."""
    flow_graph.nodes[src]["demand"], flow_graph.nodes[dst]["demand"] = -2, 2
    try:
        flow = nx.min_cost_flow(flow_graph, weight="cost")
    finally:
        del flow_graph.nodes[src]["demand"], flow_graph.nodes[dst]["demand"]
    costs = []
    for _ in range(2):
        path = [src]
        while path[-1] != dst:
            here = path[-1]
            there = next(head for head, units in flow[here].items() if units > 0)
            flow[here][there] -= 1
            path.append(there)
        costs.append(nx.path_weight(flow_graph, path, "cost"))
    return [sum(costs)]  # paths crossing at a device can be split two ways, the sum cannot


def mean_seconds(calls: Sequence[Callable[[], list[float]]]) -> tuple[float, list[list[float]]]:
    """Mean seconds per call, and the path costs each call found."""
    start = time.perf_counter()
    answers = [call() for call in calls]
    return (time.perf_counter() - start) / len(calls), answers


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 pairs instead of 200")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    devices, links = topology(args.seed)
    rng = random.Random(f"pairs {args.seed}")  # not the topology's sequence
    count = 20 if args.quick else 200
    pairs = [(f"s{a}", f"s{b}") for a, b in (rng.sample(range(NODES), 2) for _ in range(count))]
    print(f"graph: {NODES} nodes, {len(links)} links, {len(pairs)} pairs, seed {args.seed}")

    start = time.perf_counter()
    ours = PathGraph(devices, links)
    build = time.perf_counter() - start
    start = time.perf_counter()
    graph = networkx_graph(links)
    flow_graph = graph.to_directed()
    print(line("build graph", build, time.perf_counter() - start, "networkx Graph + DiGraph"))

    def asked(**constraints: Any) -> list[Callable[[], list[float]]]:
        requests = [PathRequest(src_device_id=s, dst_device_id=t, **constraints) for s, t in pairs]
        return [partial(costs_of, ours, request) for request in requests]

    def baseline(
        search: Callable[..., list[float]], on: nx.Graph
    ) -> list[Callable[[], list[float]]]:
        return [partial(search, on, s, t) for s, t in pairs]

    cases = [
        ("shortest path", asked(), "networkx shortest_path", baseline(nx_shortest, graph)),
        (
            "shortest path",
            asked(),
            "networkx bidirectional_dijkstra",
            baseline(nx_bidirectional, graph),
        ),
        (
            "shortest path, 10 Gbit/s",
            asked(bandwidth_bps=10 * GBPS),
            "networkx shortest_path, weight hiding thin links",
            baseline(nx_wide_shortest, graph),
        ),
        (
            "4 shortest paths",
            asked(k=4),
            "networkx shortest_simple_paths",
            baseline(nx_k_shortest, graph),
        ),
        (
            "link-disjoint pair",
            asked(disjoint="link"),
            "networkx min_cost_flow",
            baseline(nx_disjoint_pair, flow_graph),
        ),
    ]
    for name, ours_calls, baseline_name, baseline_calls in cases:
        ours_time, ours_costs = mean_seconds(ours_calls)
        baseline_time, baseline_costs = mean_seconds(baseline_calls)
        if ours_costs != baseline_costs:
            raise SystemExit(f"{name}: netweave and networkx disagree on path costs")
        print(line(name, ours_time, baseline_time, baseline_name))


def costs_of(paths: PathGraph, request: PathRequest) -> list[float]:
    costs = [path.cost for path in paths.compute(request)]
    return [sum(costs)] if request.disjoint else costs


def line(name: str, ours: float, baseline: float, baseline_name: str) -> str:
    """`name: value unit (ratio vs baseline)`, per call."""
    return (
        f"{name}: {ours * 1e3:.3f} ms ({baseline / ours:.1f}x vs {baseline_name},"
        f" {baseline * 1e3:.3f} ms)"
    )


if __name__ == "__main__":
    main()
