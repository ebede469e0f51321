"""Least costs to a destination from every node, kept per destination and shared.

A row (the exact cost from every node to one destination) is one Dijkstra (see
`_search.costs_to`); with it, a shortest-path request is a walk along arcs that keep to
it (`_search.tight_route`). Rows depend only on the nodes, arcs and costs, not on
bandwidths, so snapshots that differ only by reservations share one table: a few tables
are kept, by a digest of what they depend on. Only for graphs of at most
`TABLE_MAX_NODES` nodes (a full table takes the square of the node count in memory).

A table is filled a row at a time, as destinations are asked for, rather than by
rustworkx's all-pairs Dijkstra (parallel, each arc cost read once): at 1,000 nodes that
takes ~0.2 s (half of it turning its result into arrays) against ~0.4 ms a row, but all
of it on the first request after a cost change.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections import OrderedDict

import numpy as np

from netweave.pathcomp._digraph import Digraph
from netweave.pathcomp._search import costs_to

TABLE_MAX_NODES = 2_000  # a full table: 32 MB of float64
TABLES_CACHED = 2


class CostTable:
    """Least costs between the nodes of `digraph`: `costs_to(t)[v]` is v's cost to t."""

    def __init__(self, digraph: Digraph) -> None:
        self._digraph = digraph
        self._rows: dict[int, array[float]] = {}

    def costs_to(self, target: int) -> array[float]:
        """The least cost from every node to `target` (inf when there is none); read-only."""
        row = self._rows.get(target)
        if row is None:
            row = self._rows[target] = costs_to(self._digraph, self._digraph.graph, target)
        return row


_tables: OrderedDict[bytes, CostTable] = OrderedDict()
_lock = threading.Lock()


def fits_table(digraph: Digraph) -> bool:
    return len(digraph.mirror) <= TABLE_MAX_NODES


def cost_table(digraph: Digraph) -> CostTable:
    """The cost table of `digraph`: shared with earlier snapshots of the same costs."""
    key = _digest(digraph)
    with _lock:
        table = _tables.pop(key, None) or CostTable(digraph)
        _tables[key] = table  # the most recently used last
        while len(_tables) > TABLES_CACHED:
            _tables.popitem(last=False)
    return table


def forget_tables() -> None:
    """Drop every shared table (benchmarks measure filling them)."""
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
