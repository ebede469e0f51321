"""Path computation: netweave's PathGraph (rustworkx) vs networkx, same graph, same run.

Run: ``python -m bench.pathcomp [--quick] [--seed N] [--nodes N]``. A seeded random
network of 1,000 switches (``--nodes``) with four links each (a ring, so every pair has
a link-disjoint pair, plus random chords; integer costs 1-20; 1, 10 or 100 Gbit/s)
answers random requests, each through netweave's public API (request objects built
beforehand, `Path` objects and their checks included) and through the networkx call a
user would reach for:

- shortest path: ``PathGraph.compute`` vs ``networkx.shortest_path(weight=...)``, which
  runs a bidirectional Dijkstra;
- the same with 10 Gbit/s asked (pairs that have such a path): networkx gets a weight
  function hiding thinner links;
- 4 shortest simple paths: ``compute(k=4)`` vs ``networkx.shortest_simple_paths``;
- least-cost link-disjoint pair: ``compute_disjoint_pair`` (Suurballe) vs networkx's
  exact method, a two-unit ``networkx.min_cost_flow`` walked into two paths.

Each side runs every case three times and keeps its best round; PathGraph is built
afresh (untimed) for each round, so its own caches (filtered graphs and their
per-destination Dijkstras) start cold. The cost table (least costs to a destination,
one Dijkstra per destination, shared by PathGraphs with the same costs) already holds
the destinations of a case, filled by an untimed pass, as in a controller between cost
changes; the shortest-path case is also run with the table emptied before each round
("filled by the round"). Every answer's cost is checked against networkx's before any
time is printed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from itertools import islice
from typing import Any

import networkx as nx

from bench.common import Stopwatch, parser, report
from netweave.model import Device, EndpointRef, Link
from netweave.pathcomp import PathGraph, PathRequest
from netweave.pathcomp._table import TABLE_MAX_NODES, forget_tables

ROUNDS = 3
GBPS = 10**9
Costs = list[float]


def topology(seed: int, nodes: int) -> tuple[list[Device], list[Link]]:
    """`nodes` switches in a ring plus random chords: 4 links per switch."""
    rng = random.Random(seed)
    names = [f"s{i}" for i in range(nodes)]
    ends = {(names[i], names[(i + 1) % nodes]) for i in range(nodes)}
    while len(ends) < 4 * nodes:
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
        ends = (link.a.device_id, link.b.device_id)
        graph.add_edge(*ends, cost=int(link.cost), capacity=1, unreserved=link.unreserved_bps)
    return graph


def nx_shortest(graph: nx.Graph, src: str, dst: str) -> Costs:
    return [nx.path_weight(graph, nx.shortest_path(graph, src, dst, "cost"), "cost")]


def nx_wide_shortest(graph: nx.Graph, src: str, dst: str) -> Costs:
    """Shortest path over links with 10 Gbit/s unreserved (a weight of None hides a link)."""

    def cost(_: str, __: str, link: dict[str, int]) -> int | None:
        return link["cost"] if link["unreserved"] >= 10 * GBPS else None

    return [nx.path_weight(graph, nx.shortest_path(graph, src, dst, cost), "cost")]


def nx_k_shortest(graph: nx.Graph, src: str, dst: str) -> Costs:
    paths = islice(nx.shortest_simple_paths(graph, src, dst, "cost"), 4)
    return [nx.path_weight(graph, path, "cost") for path in paths]


def nx_disjoint_pair(flow_graph: nx.DiGraph, src: str, dst: str) -> Costs:
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


BASELINES: dict[Callable[..., Costs], str] = {
    nx_shortest: "networkx shortest_path",
    nx_wide_shortest: "networkx shortest_path",
    nx_k_shortest: "networkx shortest_simple_paths",
    nx_disjoint_pair: "networkx min_cost_flow",
}


def ours(paths: PathGraph, requests: Sequence[PathRequest]) -> list[Costs]:
    answers = []
    for request in requests:
        costs = [path.cost for path in paths.compute(request)]
        answers.append([sum(costs)] if request.disjoint else costs)
    return answers


def theirs(
    on: nx.Graph, search: Callable[..., Costs], pairs: Sequence[tuple[str, str]]
) -> list[Costs]:
    return [search(on, src, dst) for src, dst in pairs]


def fastest(build: Callable[[], object]) -> float:
    """Best seconds of ROUNDS calls of `build`."""
    best = float("inf")
    for _ in range(ROUNDS):
        with Stopwatch() as watch:
            build()
        best = min(best, watch.seconds)
    return best


def best_round(
    run: Callable[[Any], list[Costs]], fresh: Callable[[], Any]
) -> tuple[float, list[Costs]]:
    """Best seconds over ROUNDS rounds of `run`, each on a `fresh()` subject; the answers."""
    best, answers = float("inf"), []
    for _ in range(ROUNDS):
        subject = fresh()
        start = time.perf_counter()
        answers = run(subject)
        best = min(best, time.perf_counter() - start)
    return best, answers


def fresh_table(devices: list[Device], links: list[Link]) -> PathGraph:
    """A PathGraph that shares no cost table: every new destination costs a Dijkstra."""
    forget_tables()
    return PathGraph(devices, links)


def main() -> None:
    arguments = parser((__doc__ or "").splitlines()[0])
    arguments.add_argument("--seed", type=int, default=1)
    arguments.add_argument("--nodes", type=int, default=1_000, help="switches (4 links each)")
    args = arguments.parse_args()
    nodes = args.nodes
    devices, links = topology(args.seed, nodes)
    rng = random.Random(f"pairs {args.seed}")  # not the topology's sequence
    count = 20 if args.quick else 200
    pairs = [rng.sample(range(nodes), 2) for _ in range(count)]
    print(f"graph: {nodes} nodes, {len(links)} links; {count} requests per case, seed {args.seed}")

    graph = networkx_graph(links)
    flow_graph = graph.to_directed()
    baseline = report(
        "build graph, networkx Graph + DiGraph",
        1 / fastest(lambda: networkx_graph(links).to_directed()),
        "graphs/s",
    )
    report(
        "build graph, netweave PathGraph",
        1 / fastest(lambda: PathGraph(devices, links)),
        "graphs/s",
        baseline,
    )

    if nodes > TABLE_MAX_NODES:
        print(f"no cost table above {TABLE_MAX_NODES:,} switches: A* on landmark bounds")

    wide_links = nx.subgraph_view(
        graph, filter_edge=lambda a, b: graph[a][b]["unreserved"] >= 10 * GBPS
    )
    wide = [[s, t] for s, t in pairs if nx.has_path(wide_links, f"s{s}", f"s{t}")]
    cases: list[tuple[str, dict[str, Any], list[list[int]], Callable[..., Costs]]] = [
        ("shortest path", {}, pairs, nx_shortest),
        ("shortest path with 10 Gbit/s", {"bandwidth_bps": 10 * GBPS}, wide, nx_wide_shortest),
        ("4 shortest paths", {"k": 4}, pairs, nx_k_shortest),
        ("link-disjoint pair", {"disjoint": "link"}, pairs, nx_disjoint_pair),
    ]
    for name, constraints, ends, search in cases:
        named = [(f"s{src}", f"s{dst}") for src, dst in ends]
        requests = [PathRequest(src_device_id=s, dst_device_id=t, **constraints) for s, t in named]
        ours(PathGraph(devices, links), requests)  # fills the cost table's rows (untimed)
        our_time, our_costs = best_round(
            partial(ours, requests=requests), partial(PathGraph, devices, links)
        )
        on = flow_graph if search is nx_disjoint_pair else graph
        their_time, their_costs = best_round(
            partial(theirs, search=search, pairs=named), lambda on=on: on
        )
        if our_costs != their_costs:
            raise SystemExit(f"{name}: netweave and networkx disagree on path costs")
        baseline = report(f"{name}, {BASELINES[search]}", len(ends) / their_time, "requests/s")
        report(f"{name}, netweave", len(ends) / our_time, "requests/s", baseline)
        if not constraints and nodes <= TABLE_MAX_NODES:
            cold_time, _ = best_round(
                partial(ours, requests=requests), partial(fresh_table, devices, links)
            )
            report(
                f"{name}, netweave, cost table filled by the round",
                len(ends) / cold_time,
                "requests/s",
                baseline,
            )


if __name__ == "__main__":
    main()
