"""The least cost between every two nodes of a plain digraph, shared by equal snapshots.

One all-pairs Dijkstra in rustworkx reads each arc cost once, then runs in Rust on all
cores; the table turns a shortest-path request into a walk along arcs that keep to it
(see `_search.tight_route`). It depends only on the nodes, arcs and costs, not on
bandwidths, so snapshots that differ only by reservations share one table: a few are
kept, by a digest of what they depend on. Built on first use, for graphs of at most
`TABLE_MAX_NODES` nodes (memory and time grow with the square of the node count).
"""

from __future__ import annotations

import hashlib
import math
import threading
from array import array
from collections import OrderedDict

import numpy as np
import rustworkx as rx

from netweave.pathcomp._digraph import Digraph

TABLE_MAX_NODES = 2_000  # 32 MB of float64
TABLES_CACHED = 2


class CostTable:
    """Least costs between all nodes of `digraph`: `costs_to(t)[v]` is v's cost to t."""

    def __init__(self, digraph: Digraph) -> None:
        nodes = len(digraph.mirror)
        costs_from = np.full((nodes, nodes), math.inf)
        lengths = rx.digraph_all_pairs_dijkstra_path_lengths(
            digraph.graph, digraph.arc_cost.__getitem__
        )
        for source, row in lengths.items():
            costs_from[source, list(row.keys())] = list(row.values())
        np.fill_diagonal(costs_from, 0.0)
        # the cost from v to t is the cost from t's mirror image to v's (see `_digraph`)
        mirror = np.array(digraph.mirror, dtype=np.intp)
        costs_to = costs_from[np.ix_(mirror, mirror)]
        self._rows = [array("d", row.tobytes()) for row in costs_to]

    def costs_to(self, target: int) -> array[float]:
        """The least cost from every node to `target` (inf when there is none); read-only."""
        return self._rows[target]


_tables: OrderedDict[bytes, CostTable] = OrderedDict()
_lock = threading.Lock()


def fits_table(digraph: Digraph) -> bool:
    return len(digraph.mirror) <= TABLE_MAX_NODES


def cost_table(digraph: Digraph) -> CostTable:
    """The cost table of `digraph`, built or shared."""
    key = _digest(digraph)
    with _lock:
        table = _tables.get(key)
        if table is not None:
            _tables.move_to_end(key)
            return table
    table = CostTable(digraph)
    with _lock:
        _tables[key] = table
        while len(_tables) > TABLES_CACHED:
            _tables.popitem(last=False)
    return table


def forget_tables() -> None:
    """Drop every shared table (benchmarks measure building them)."""
    with _lock:
        _tables.clear()


def _digest(digraph: Digraph) -> bytes:
    """What the table depends on: nodes, mirror images, arc ends and costs."""
    digest = hashlib.blake2b(digest_size=32)
    for values, kind in (
        (digraph.mirror, np.int64),
        (digraph.arc_tail, np.int64),
        (digraph.arc_head, np.int64),
        (digraph.arc_cost, np.float64),
    ):
        digest.update(len(values).to_bytes(8, "little"))
        digest.update(np.asarray(values, dtype=kind).tobytes())
    return digest.digest()
