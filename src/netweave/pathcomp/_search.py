"""Path search on a `Digraph`: shortest (by search, or by a walk on exact costs to the
destination), k-shortest (Yen) and disjoint pairs (Suurballe).

Routes are tuples of graph nodes and arcs. Searches see the graph in one fixed order
(built from sorted ids) and pick the lowest arc index among parallel arcs, so the same
snapshot and request always give the same routes, ties included.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import rustworkx as rx

from netweave.pathcomp._digraph import Digraph

Weight = Callable[[int], float]  # of an arc
Estimate = Callable[[int], float]  # of a node
Graph = rx.PyDiGraph[int, int]


@dataclass(frozen=True, slots=True)
class Route:
    nodes: tuple[int, ...]
    arcs: tuple[int, ...]


def route_order(digraph: Digraph, route: Route) -> tuple[float, int, tuple[int, ...]]:
    """Best first: lowest cost, then fewest arcs, then lowest arc indices."""
    return sum(digraph.arc_cost[arc] for arc in route.arcs), len(route.arcs), route.arcs


def shortest(
    graph: Graph, source: int, target: int, weight: Weight, estimate: Estimate | None = None
) -> Route | None:
    """The lowest-weight route from `source` to `target` in `graph`, if any.

    With `estimate` (a consistent lower bound of the weight from a node to `target`),
    A* is used instead of Dijkstra: with a tight bound it looks at little beyond the route.
    """
    if estimate is None:
        found = rx.digraph_dijkstra_shortest_paths(graph, source, target, weight_fn=weight)
        if target not in found:
            return None
        nodes = tuple(found[target])
    else:
        try:
            nodes = tuple(
                rx.digraph_astar_shortest_path(graph, source, target.__eq__, weight, estimate)
            )
        except rx.NoPathFound:
            return None
    arcs = tuple(
        min(graph.get_all_edge_data(tail, head), key=lambda arc: (weight(arc), arc))
        for tail, head in pairwise(nodes)
    )
    return Route(nodes, arcs)


def tight_route(
    digraph: Digraph,
    costs_to: Sequence[float],
    source: int,
    target: int,
    allowed: Callable[[int], bool] | None = None,
) -> Route | None:
    """A least-cost route along arcs that keep to `costs_to`, or None if there is none.

    `costs_to` holds the exact least cost from every node to `target` in `digraph`. Only
    arcs whose cost plus what is left from their head equals what is left from their tail
    are followed (and of those, only `allowed` ones): depth first, lowest arc first,
    never twice through a node. Without `allowed` the walk rarely backtracks; with it,
    None means that the allowed arcs have no route as cheap as `costs_to[source]`.
    """
    if costs_to[source] == math.inf:
        return None
    head, cost, out_arcs = digraph.arc_head, digraph.arc_cost, digraph.out_arcs
    nodes, arcs = [source], list[int]()
    pending = [iter(out_arcs[source])]  # per node of the walk: its arcs not tried yet
    seen = {source}
    while nodes[-1] != target:
        left = costs_to[nodes[-1]]
        for arc in pending[-1]:
            node = head[arc]
            if (
                cost[arc] + costs_to[node] == left
                and node not in seen
                and (allowed is None or allowed(arc))
            ):
                seen.add(node)
                nodes.append(node)
                arcs.append(arc)
                pending.append(iter(out_arcs[node]))
                break
        else:  # a dead end: back up one arc
            if not arcs:
                return None
            nodes.pop()
            arcs.pop()
            pending.pop()
    return Route(tuple(nodes), tuple(arcs))


def costs_to(digraph: Digraph, graph: Graph, target: int) -> array[float]:
    """The least cost from every node to `target` (inf when there is none).

    `graph` is `digraph.graph` (not split) or a filtered copy of it. One Dijkstra from the
    target's mirror image in the same graph does it, as if every arc were turned round.
    """
    mirror = digraph.mirror
    found = array("d", [math.inf]) * len(mirror)
    found[target] = 0.0
    lengths = rx.digraph_dijkstra_shortest_path_lengths(
        graph, mirror[target], digraph.arc_cost.__getitem__
    )
    for node, length in lengths.items():
        found[mirror[node]] = length
    return found


def k_shortest(
    digraph: Digraph,
    graph: Graph,
    first: Route,
    exact_estimate: Callable[[], Estimate],
) -> Iterator[Route]:
    """Simple routes by increasing cost (Yen's algorithm) after `first`, lazily, until
    there are no more.

    `first` is a least-cost route in `graph`. Spur searches run A* guided by the estimate
    `exact_estimate()` returns once a second route is asked for: a consistent lower bound
    of the cost from a node to the target in `graph`; an exact one stays one in the spur
    graphs, which only lose arcs and nodes. Spur searches start where a route left its
    parent (Lawler), and one copy of `graph` serves all spurs of a route.
    """
    weight = digraph.arc_cost.__getitem__
    route, target = first, first.nodes[-1]
    yield route
    estimate = exact_estimate()
    accepted: list[Route] = []
    seen = {route.arcs}
    candidates: list[tuple[tuple[float, int, tuple[int, ...]], int, Route]] = []
    deviation = 0
    while True:
        accepted.append(route)
        spur_graph = graph.copy()  # loses the root's nodes as the spur node moves on
        spur_graph.remove_nodes_from(list(route.nodes[:deviation]))
        for spur in range(deviation, len(route.arcs)):
            root = route.arcs[:spur]
            for arc in {other.arcs[spur] for other in accepted if other.arcs[:spur] == root}:
                spur_graph.remove_edge_from_index(arc)  # leaves the spur node, gone next
            tail = shortest(spur_graph, route.nodes[spur], target, weight, estimate)
            spur_graph.remove_node(route.nodes[spur])
            if tail is None or root + tail.arcs in seen:
                continue
            candidate = Route(route.nodes[:spur] + tail.nodes, root + tail.arcs)
            seen.add(candidate.arcs)
            heapq.heappush(candidates, (route_order(digraph, candidate), spur, candidate))
        if not candidates:
            return
        _, deviation, route = heapq.heappop(candidates)
        yield route


def disjoint_pair(
    digraph: Digraph, graph: Graph, source: int, target: int, costs_to: Sequence[float]
) -> tuple[Route, Route] | None:
    """Two arc-disjoint routes of least total cost (Suurballe), or None if there are none.

    `costs_to` holds the exact cost from every node of `graph` to `target`: it guides the
    first search (A*) and makes every arc cost of the second search non-negative.
    On a graph with `split_all`, arc-disjoint routes are also device-disjoint. Without it,
    both arcs of a used link are taken out, so the routes share no link in either direction.
    """
    cost = digraph.arc_cost
    first = shortest(graph, source, target, cost.__getitem__, costs_to.__getitem__)
    if first is None:
        return None

    reversed_from = len(cost)  # payload of the residual arc reversing arc `a`: reversed_from + a
    residual = graph.copy()
    for (tail, head), arc in zip(pairwise(first.nodes), first.arcs, strict=True):
        residual.remove_edge_from_index(arc)
        if digraph.arc_link[arc] >= 0:
            residual.remove_edge_from_index(arc ^ 1)
        residual.add_edge(head, tail, reversed_from + arc)

    def reduced(arc: int) -> float:
        """Zero on reversed arcs; inf into nodes that cannot reach the target."""
        if arc >= reversed_from:
            return 0.0
        tail, head = digraph.arc_tail[arc], digraph.arc_head[arc]
        return max(0.0, cost[arc] + costs_to[head] - costs_to[tail])

    second = shortest(residual, source, target, reduced)
    if second is None:
        return None
    cancelled = {arc - reversed_from for arc in second.arcs if arc >= reversed_from}
    used = [arc for arc in first.arcs if arc not in cancelled]
    used += [arc for arc in second.arcs if arc < reversed_from]
    return _untangle(digraph, used, source, target)


def _untangle(digraph: Digraph, arcs: list[int], source: int, target: int) -> tuple[Route, Route]:
    """Split the arcs of a two-route flow into two simple routes, lowest arcs first."""
    leaving: dict[int, list[int]] = {}
    for arc in sorted(arcs, reverse=True):
        leaving.setdefault(digraph.arc_tail[arc], []).append(arc)

    def walk() -> Route:
        nodes, taken = [source], list[int]()
        while nodes[-1] != target:
            arc = leaving[nodes[-1]].pop()
            taken.append(arc)
            nodes.append(digraph.arc_head[arc])
        return _without_loops(nodes, taken)

    return walk(), walk()


def _without_loops(nodes: list[int], arcs: list[int]) -> Route:
    """The walk with every closed loop cut out (loops in a least-cost flow cost nothing)."""
    kept_nodes, kept_arcs = [nodes[0]], list[int]()
    position = {nodes[0]: 0}
    for arc, node in zip(arcs, nodes[1:], strict=True):
        if node in position:
            cut = position[node]
            for dropped in kept_nodes[cut + 1 :]:
                del position[dropped]
            del kept_nodes[cut + 1 :], kept_arcs[cut:]
        else:
            position[node] = len(kept_nodes)
            kept_nodes.append(node)
            kept_arcs.append(arc)
    return Route(tuple(kept_nodes), tuple(kept_arcs))
