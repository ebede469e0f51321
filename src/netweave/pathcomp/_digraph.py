"""The topology as a rustworkx directed multigraph, built once per snapshot.

Every usable link gives two arcs, one each way; arc `2j` and `2j + 1` belong to the
j-th usable link, so an arc's twin (same link, other way) is `arc ^ 1`. The arc index is
both the edge payload and the rustworkx edge index, which copies of the graph keep; a
node's payload is its index too.

A host is split into an out-node (where paths leave it) and an in-node (where paths reach
it) with no arc between them, so a host can start or end a path but never carry one.
With `split_all`, every other device is split too and joined by one internal arc from
its in-node to its out-node: paths that share no internal arc share no device, which is
what node-disjoint pairs need.

Turning every arc round gives the same graph again, up to swapping each device's out- and
in-node (`mirror`): costs *to* a node are costs *from* its mirror image. This holds for
any filtered copy too, since filters take out both arcs of a link and both nodes of a
device. (The split graph's internal arcs break it; it is only used for disjoint pairs.)
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Final

import rustworkx as rx

NO_LINK: Final = -1  # arc_link of a device's internal arc


@dataclass(frozen=True, slots=True)
class LinkAttrs:
    """What path computation needs of one link, by device index."""

    a: int
    b: int
    cost: float
    latency_ms: float
    unreserved_bps: int


@dataclass(frozen=True, slots=True)
class Digraph:
    graph: rx.PyDiGraph[int, int]
    mirror: list[int]  # per node: the node playing its part when every arc is turned round
    out_node: list[int]  # per device index
    in_node: list[int]  # per device index
    node_device: list[int]
    arc_link: list[int]  # link index, or NO_LINK
    arc_tail: list[int]
    arc_head: list[int]
    arc_cost: list[float]
    arc_latency: list[float]
    arc_hop: list[float]  # 1 per link arc, 0 per internal arc
    arc_bps: list[int]  # unreserved bandwidth of each link arc
    out_arcs: list[tuple[int, ...]]  # per node: the arcs leaving it, lowest first
    link_arcs: dict[int, tuple[int, int]]  # link index -> its two arcs
    thin_order: list[int]  # link arcs, least unreserved bandwidth first
    thin_bps: list[int]  # unreserved bandwidth of thin_order, ascending

    def device_nodes(self, device: int) -> set[int]:
        return {self.out_node[device], self.in_node[device]}

    def thin_arcs(self, bandwidth_bps: int) -> int:
        """How many link arcs (the first of `thin_order`) have less than `bandwidth_bps`."""
        return bisect_left(self.thin_bps, bandwidth_bps)


def build_digraph(is_host: list[bool], links: dict[int, LinkAttrs], *, split_all: bool) -> Digraph:
    """The digraph of devices (by index; hosts flagged) and usable links (by link index)."""
    out_node: list[int] = []
    in_node: list[int] = []
    node_device: list[int] = []
    for device, host in enumerate(is_host):
        out_node.append(len(node_device))
        node_device.append(device)
        if host or split_all:
            node_device.append(device)
        in_node.append(len(node_device) - 1)

    arcs: list[tuple[int, int, int]] = []
    arc_link: list[int] = []
    arc_cost: list[float] = []
    arc_latency: list[float] = []
    link_arcs: dict[int, tuple[int, int]] = {}
    for index, link in links.items():
        link_arcs[index] = (len(arcs), len(arcs) + 1)
        for tail, head in ((link.a, link.b), (link.b, link.a)):
            arcs.append((out_node[tail], in_node[head], len(arcs)))
        arc_link += [index, index]
        arc_cost += [link.cost, link.cost]
        arc_latency += [link.latency_ms, link.latency_ms]
    link_arc_count = len(arcs)
    if split_all:
        for device, host in enumerate(is_host):
            if not host:
                arcs.append((in_node[device], out_node[device], len(arcs)))
        internal = len(arcs) - link_arc_count
        arc_link += [NO_LINK] * internal
        arc_cost += [0.0] * internal
        arc_latency += [0.0] * internal

    graph: rx.PyDiGraph[int, int] = rx.PyDiGraph(multigraph=True)
    graph.add_nodes_from(range(len(node_device)))
    graph.add_edges_from(arcs)
    mirror = list(range(len(node_device)))
    for out, in_ in zip(out_node, in_node, strict=True):
        mirror[out], mirror[in_] = in_, out
    bandwidth = [links[arc_link[arc]].unreserved_bps for arc in range(link_arc_count)]
    out_arcs: list[list[int]] = [[] for _ in node_device]
    for tail, _, arc in arcs:
        out_arcs[tail].append(arc)
    thin_order = sorted(range(link_arc_count), key=lambda arc: (bandwidth[arc], arc))
    return Digraph(
        graph=graph,
        mirror=mirror,
        out_node=out_node,
        in_node=in_node,
        node_device=node_device,
        arc_link=arc_link,
        arc_tail=[tail for tail, _, _ in arcs],
        arc_head=[head for _, head, _ in arcs],
        arc_cost=arc_cost,
        arc_latency=arc_latency,
        arc_hop=[1.0] * link_arc_count + [0.0] * (len(arcs) - link_arc_count),
        arc_bps=bandwidth,
        out_arcs=[tuple(leaving) for leaving in out_arcs],
        link_arcs=link_arcs,
        thin_order=thin_order,
        thin_bps=[bandwidth[arc] for arc in thin_order],
    )
