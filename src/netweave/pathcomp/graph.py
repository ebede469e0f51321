"""`PathGraph`: one topology snapshot, many path requests."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import groupby, islice

import rustworkx as rx

from netweave.model import Device, DeviceType, Disjointness, Link, OperStatus, Topology
from netweave.pathcomp._digraph import Digraph, LinkAttrs, build_digraph
from netweave.pathcomp._landmarks import Landmarks
from netweave.pathcomp._search import (
    Graph,
    Route,
    costs_to,
    disjoint_pair,
    k_shortest,
    shortest,
    tight_route,
)
from netweave.pathcomp._table import CostTable, cost_table, fits_table
from netweave.pathcomp.errors import Constraint, NoPathError
from netweave.pathcomp.request import MAX_K, Path, PathRequest

DEFAULT_SEARCH_LIMIT = 100
GRAPHS_CACHED = 32  # filtered graphs (per bandwidth and exclusions) a PathGraph keeps
COSTS_TO_CACHED = 256  # cost-to-destination tables (per filter and destination) it keeps


@dataclass(frozen=True, slots=True)
class _Filter:
    """What a request leaves out of the plain or split digraph (a cache key)."""

    split: bool
    thin_arcs: int  # how many of the digraph's `thin_order` arcs
    devices: frozenset[int]
    links: frozenset[int]


_UNFILTERED = _Filter(split=False, thin_arcs=0, devices=frozenset(), links=frozenset())


class PathGraph:
    """Computes paths over one snapshot of devices and links; build once, ask many times.

    Links are bidirectional; links whose status is down are left out. Host devices may
    start or end a path but never carry one. Costs, latencies and bandwidths are read
    from the links; a link's usable bandwidth is its `unreserved_bps`.

    The first path of a request walks from the source along the lowest arcs that keep to
    the least cost to the destination (`_table`: one Dijkstra per destination, kept and
    shared by snapshots with the same costs); when the request's filters block every
    such path, A* guided by those costs finds one. Graphs too big for a table use A* on
    landmark bounds (16 Dijkstras when the graph is built) instead. Further paths and
    disjoint pairs are searched with A* on the exact cost to the destination (the
    table's; with filters, one Dijkstra per destination and filter, cached).

    `search_limit` bounds the search under `max_latency_ms`/`max_hops`: at most that many
    simple paths are examined in order of cost. If fewer than `k` of them qualify, the
    lowest-latency and the fewest-hop paths are added when they qualify, and only then is
    the request refused (a qualifying path may exist beyond the bound: constrained
    shortest path is NP-hard in general).
    """

    def __init__(
        self,
        devices: Iterable[Device],
        links: Iterable[Link],
        *,
        search_limit: int = DEFAULT_SEARCH_LIMIT,
    ) -> None:
        if search_limit < MAX_K:
            raise ValueError(f"search_limit: must be at least {MAX_K}, got {search_limit}")
        self._search_limit = search_limit
        ordered_devices = sorted(devices, key=lambda device: device.id)
        self._device_ids = [device.id for device in ordered_devices]
        self._device_names = [device.name for device in ordered_devices]
        self._device_index = {device_id: i for i, device_id in enumerate(self._device_ids)}
        self._is_host = [device.type is DeviceType.HOST for device in ordered_devices]
        ordered_links = sorted(links, key=lambda link: link.id)
        self._link_ids = [link.id for link in ordered_links]
        self._link_index = {link_id: i for i, link_id in enumerate(self._link_ids)}
        self._links = {
            i: self._attrs(link)
            for i, link in enumerate(ordered_links)
            if link.status is not OperStatus.DOWN and link.a.device_id != link.b.device_id
        }
        self._plain = build_digraph(self._is_host, self._links, split_all=False)
        self._landmarks = (  # for graphs too big for a cost table
            None if fits_table(self._plain) else Landmarks(self._plain, self._plain.graph)
        )
        self._graph = lru_cache(maxsize=GRAPHS_CACHED)(self._filtered_graph)
        self._dijkstra_costs_to = lru_cache(maxsize=COSTS_TO_CACHED)(self._exact_costs_to)

    @classmethod
    def from_topology(
        cls, topology: Topology, *, search_limit: int = DEFAULT_SEARCH_LIMIT
    ) -> PathGraph:
        return cls(topology.devices, topology.links, search_limit=search_limit)

    def compute(self, request: PathRequest) -> list[Path]:
        """Up to `k` paths, lowest cost first; with `disjoint`, [primary, backup].

        Equal-cost paths come in a fixed order set by the snapshot (not by input order),
        and the answer for `k` is a prefix of the answer for `k + 1`.
        """
        if request.disjoint is not None:
            return list(self.compute_disjoint_pair(request))
        digraph = self._plain
        source, target = self._terminals(request, digraph)
        first = self._first_route(request, source, target)
        if first is None:
            raise self._unreachable(request, source, target)
        if request.k == 1 and not _has_limits(request):
            return [self._path(digraph, first)]
        keep = self._filter(request, split=False)
        graph = self._graph(keep)
        routes = k_shortest(digraph, graph, first, lambda: self._costs_to(keep, target).__getitem__)
        found: list[Path] = []
        for path in (self._path(digraph, route) for route in islice(routes, self._search_limit)):
            if _broken_limit(path, request) is None:
                found.append(path)
                if len(found) == request.k:
                    return found
        if _has_limits(request):
            for path in self._extremes(graph, source, target):
                if _broken_limit(path, request) is None and path not in found:
                    found.append(path)
        if not found:
            raise self._limits_error(request, graph, source, target)
        return sorted(found, key=lambda path: path.cost)[: request.k]  # stable: keeps ties

    def compute_disjoint_pair(self, request: PathRequest) -> tuple[Path, Path]:
        """The disjoint (`request.disjoint`, link by default) pair of least total cost.

        The primary is the better path of the two. Latency and hop limits are checked on
        this pair; other pairs are not searched.
        """
        kind = request.disjoint or Disjointness.LINK
        plain_source, plain_target = self._terminals(request, self._plain)
        costs_to = self._costs_to(self._filter(request, split=False), plain_target)
        if costs_to[plain_source] == math.inf:
            raise self._unreachable(request, plain_source, plain_target)
        if kind is Disjointness.NODE:
            digraph = self._split
            source, target = self._terminals(request, digraph)
            costs_to = array("d", [costs_to[node] for node in self._split_to_plain])
        else:
            digraph, source, target = self._plain, plain_source, plain_target
        keep = self._filter(request, split=kind is Disjointness.NODE)
        pair = disjoint_pair(digraph, self._graph(keep), source, target, costs_to)
        if pair is None:
            raise NoPathError(
                f"no {kind}-disjoint backup path between {self._between(request)}"
                f"{_applied(request)}",
                Constraint.DISJOINT,
            )
        primary, backup = sorted((self._path(digraph, route) for route in pair), key=_order)
        for role, path in (("primary", primary), ("backup", backup)):
            broken = _broken_limit(path, request)
            if broken is not None:
                raise NoPathError(
                    f"the least-cost {kind}-disjoint pair between {self._between(request)}"
                    f" breaks {broken}: its {role} path has {path.latency_ms:g} ms"
                    f" over {path.hops} hops",
                    broken,
                )
        return primary, backup

    def _first_route(self, request: PathRequest, source: int, target: int) -> Route | None:
        """A least-cost route of the plain digraph that passes the request's filters."""
        cost = self._plain.arc_cost.__getitem__
        if self._landmarks is not None:
            graph = self._graph(self._filter(request, split=False))
            return shortest(graph, source, target, cost, self._landmarks.estimate_to(target))
        costs = self._table.costs_to(target)
        if not _has_filters(request):
            return tight_route(self._plain, costs, source, target)
        route = tight_route(self._plain, costs, source, target, self._allowed(request))
        if route is None and costs[source] != math.inf:
            graph = self._graph(self._filter(request, split=False))
            route = shortest(graph, source, target, cost, costs.__getitem__)
        return route

    def _allowed(self, request: PathRequest) -> Callable[[int], bool]:
        """Whether an arc of the plain digraph passes the request's filters."""
        bandwidth = request.bandwidth_bps or 0
        devices = {self._device_index[device] for device in request.exclude_devices}
        links = {self._link_index[link] for link in request.exclude_links}
        bps, arc_link = self._plain.arc_bps, self._plain.arc_link
        head, node_device = self._plain.arc_head, self._plain.node_device

        def allowed(arc: int) -> bool:
            return (
                bps[arc] >= bandwidth
                and arc_link[arc] not in links
                and node_device[head[arc]] not in devices
            )

        return allowed

    @cached_property
    def _table(self) -> CostTable:
        return cost_table(self._plain)

    def _costs_to(self, keep: _Filter, target: int) -> array[float]:
        """The exact cost from every node to `target` in the graph `keep` leaves."""
        if keep == _UNFILTERED and self._landmarks is None:
            return self._table.costs_to(target)
        return self._dijkstra_costs_to(keep, target)

    def _digraph(self, split: bool) -> Digraph:
        return self._split if split else self._plain

    def _filtered_graph(self, keep: _Filter) -> Graph:
        """The digraph's graph without what `keep` leaves out; shared, never to be changed."""
        digraph = self._digraph(keep.split)
        if not (keep.thin_arcs or keep.links or keep.devices):
            return digraph.graph
        graph = digraph.graph.copy()
        arcs = set(digraph.thin_order[: keep.thin_arcs])
        for link in keep.links:
            arcs.update(digraph.link_arcs.get(link, ()))
        for arc in arcs:
            graph.remove_edge_from_index(arc)
        graph.remove_nodes_from([node for d in keep.devices for node in digraph.device_nodes(d)])
        return graph

    def _exact_costs_to(self, keep: _Filter, target: int) -> array[float]:
        return costs_to(self._plain, self._graph(keep), target)

    @cached_property
    def _split(self) -> Digraph:
        return build_digraph(self._is_host, self._links, split_all=True)

    @cached_property
    def _split_to_plain(self) -> list[int]:
        """Per node of the split digraph, the plain node with the same cost to anywhere."""
        plain, split = self._plain, self._split
        to_plain = [0] * len(split.node_device)
        for device in range(len(self._device_ids)):
            to_plain[split.out_node[device]] = plain.out_node[device]
            to_plain[split.in_node[device]] = plain.in_node[device]
        return to_plain

    def _attrs(self, link: Link) -> LinkAttrs:
        ends = []
        for end, ref in (("a", link.a), ("b", link.b)):
            if ref.device_id not in self._device_index:
                raise ValueError(
                    f"link {link.name!r}: end {end} is on unknown device {ref.device_id!r}"
                )
            ends.append(self._device_index[ref.device_id])
        return LinkAttrs(ends[0], ends[1], link.cost, link.latency_ms, link.unreserved_bps)

    # --- constraints -------------------------------------------------------------------

    def _terminals(self, request: PathRequest, digraph: Digraph) -> tuple[int, int]:
        """Source and target nodes; refuses unknown ids and excluded end devices."""
        for field, device_id in (
            (Constraint.SRC_DEVICE_ID, request.src_device_id),
            (Constraint.DST_DEVICE_ID, request.dst_device_id),
        ):
            if device_id not in self._device_index:
                raise NoPathError(f"unknown device {device_id!r}", field)
            if device_id in request.exclude_devices:
                raise NoPathError(
                    f"{field} {self._name(device_id)} is itself excluded",
                    Constraint.EXCLUDE_DEVICES,
                )
        for device_id in request.exclude_devices:
            if device_id not in self._device_index:
                raise NoPathError(f"unknown device {device_id!r}", Constraint.EXCLUDE_DEVICES)
        for link_id in request.exclude_links:
            if link_id not in self._link_index:
                raise NoPathError(f"unknown link {link_id!r}", Constraint.EXCLUDE_LINKS)
        source = digraph.out_node[self._device_index[request.src_device_id]]
        return source, digraph.in_node[self._device_index[request.dst_device_id]]

    def _filter(
        self,
        request: PathRequest,
        *,
        split: bool,
        devices: bool = True,
        links: bool = True,
        bandwidth_bps: int | None = None,
    ) -> _Filter:
        """What to leave out for `request`, optionally ignoring some of its filters."""
        bandwidth = request.bandwidth_bps if bandwidth_bps is None else bandwidth_bps
        return _Filter(
            split=split,
            thin_arcs=self._digraph(split).thin_arcs(bandwidth) if bandwidth else 0,
            devices=frozenset(self._device_index[d] for d in request.exclude_devices)
            if devices
            else frozenset(),
            links=frozenset(self._link_index[link] for link in request.exclude_links)
            if links
            else frozenset(),
        )

    def _unreachable(self, request: PathRequest, source: int, target: int) -> NoPathError:
        """Why the filtered plain graph has no path: the first filter that disconnects."""
        between = self._between(request)
        for constraint, devices, links, reason in (
            (Constraint.CONNECTIVITY, False, False, "are not connected (down links left out)"),
            (
                Constraint.EXCLUDE_DEVICES,
                True,
                False,
                "are only connected through excluded devices",
            ),
            (Constraint.EXCLUDE_LINKS, True, True, "are only connected through excluded links"),
        ):
            relaxed = self._filtered_graph(
                self._filter(request, split=False, devices=devices, links=links, bandwidth_bps=0)
            )
            if not rx.has_path(relaxed, source, target):
                return NoPathError(f"{between} {reason}", constraint)
        return NoPathError(
            f"no path with {_bps(request.bandwidth_bps or 0)} unreserved between {between}"
            f" (best available {_bps(self._widest(request, source, target))})",
            Constraint.BANDWIDTH,
        )

    def _widest(self, request: PathRequest, source: int, target: int) -> int:
        """The most unreserved bandwidth any path has, exclusions applied (bisection)."""
        levels = sorted(set(self._plain.thin_bps))
        low, high = 0, len(levels) - 1  # invariant: a path exists at levels[low]
        while low < high:
            middle = (low + high + 1) // 2
            keep = self._filter(request, split=False, bandwidth_bps=levels[middle])
            graph = self._filtered_graph(keep)  # not cached: one-off graphs
            if rx.has_path(graph, source, target):
                low = middle
            else:
                high = middle - 1
        return levels[low]

    def _extremes(self, graph: Graph, source: int, target: int) -> tuple[Path, Path]:
        """The lowest-latency and the fewest-hop paths of a connected pair."""
        fastest = shortest(graph, source, target, self._plain.arc_latency.__getitem__)
        fewest = shortest(graph, source, target, self._plain.arc_hop.__getitem__)
        assert fastest is not None and fewest is not None, "source and target are connected"
        return self._path(self._plain, fastest), self._path(self._plain, fewest)

    def _limits_error(
        self, request: PathRequest, graph: Graph, source: int, target: int
    ) -> NoPathError:
        between = self._between(request)
        fastest, fewest = self._extremes(graph, source, target)
        if request.max_latency_ms is not None and fastest.latency_ms > request.max_latency_ms:
            return NoPathError(
                f"no path within {request.max_latency_ms:g} ms between {between}"
                f" (lowest latency {fastest.latency_ms:g} ms)",
                Constraint.MAX_LATENCY,
            )
        if request.max_hops is not None and fewest.hops > request.max_hops:
            return NoPathError(
                f"no path within {request.max_hops} hops between {between} (fewest {fewest.hops})",
                Constraint.MAX_HOPS,
            )
        return NoPathError(
            f"none of the {self._search_limit} lowest-cost paths between {between} has both"
            f" at most {request.max_latency_ms:g} ms and at most {request.max_hops} hops",
            Constraint.SEARCH_LIMIT,
        )

    # --- results and messages ----------------------------------------------------------

    def _path(self, digraph: Digraph, route: Route) -> Path:
        devices = [self._device_ids[digraph.node_device[node]] for node in route.nodes]
        links = [digraph.arc_link[arc] for arc in route.arcs if digraph.arc_link[arc] >= 0]
        return Path(
            device_ids=tuple(device for device, _ in groupby(devices)),
            link_ids=tuple(self._link_ids[link] for link in links),
            latency_ms=sum(digraph.arc_latency[arc] for arc in route.arcs),
            cost=sum(digraph.arc_cost[arc] for arc in route.arcs),
        )

    def _name(self, device_id: str) -> str:
        return self._device_names[self._device_index[device_id]]

    def _between(self, request: PathRequest) -> str:
        return f"{self._name(request.src_device_id)} and {self._name(request.dst_device_id)}"


def _order(path: Path) -> tuple[float, int, tuple[str, ...]]:
    """Primary before backup: lowest cost, then fewest hops, then link ids."""
    return path.cost, path.hops, path.link_ids


def _has_limits(request: PathRequest) -> bool:
    return request.max_latency_ms is not None or request.max_hops is not None


def _has_filters(request: PathRequest) -> bool:
    return bool(request.bandwidth_bps or request.exclude_devices or request.exclude_links)


def _broken_limit(path: Path, request: PathRequest) -> Constraint | None:
    """The latency or hop limit `path` breaks, if any."""
    if request.max_latency_ms is not None and path.latency_ms > request.max_latency_ms:
        return Constraint.MAX_LATENCY
    if request.max_hops is not None and path.hops > request.max_hops:
        return Constraint.MAX_HOPS
    return None


def _applied(request: PathRequest) -> str:
    """Which path filters of the request were applied, for messages."""
    asked = [
        name
        for name, value in (
            ("bandwidth_bps", request.bandwidth_bps),
            ("exclude_devices", request.exclude_devices),
            ("exclude_links", request.exclude_links),
        )
        if value
    ]
    return f" (with {', '.join(asked)} applied)" if asked else ""


def _bps(bps: int) -> str:
    """A bit rate for people: 5 Gbit/s, 1.5 Mbit/s, 0 bit/s."""
    for factor, unit in (
        (10**12, "Tbit/s"),
        (10**9, "Gbit/s"),
        (10**6, "Mbit/s"),
        (10**3, "kbit/s"),
    ):
        if bps >= factor:
            return f"{bps / factor:g} {unit}"
    return f"{bps} bit/s"
