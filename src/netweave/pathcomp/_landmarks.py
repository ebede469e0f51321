"""Landmark lower bounds (ALT): a cheap, fixed A* guide for the first path of a request
on graphs too big for a cost table (`_table`).

For a few landmarks L, the exact cost from every node to L is computed once per
snapshot. By the triangle inequality, cost(v -> t) is at least cost(v -> L) - cost(t -> L)
and at least cost(L -> t) - cost(L -> v); the largest of these bounds over all landmarks
guides A*. The bounds hold in every filtered copy of the graph (filters only remove arcs
and nodes, costs only grow) and are consistent, so A* still finds a least-cost path.
Costs *from* a landmark come from the mirror image (see `_digraph`): landmarks are
linked devices whose single node is its own mirror image, each one the farthest from
those chosen before it (so every connected part of the network gets some).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from netweave.pathcomp._digraph import Digraph
from netweave.pathcomp._search import Graph, costs_to

LANDMARKS = 16


class Landmarks:
    """Cost bounds between any two nodes of `digraph`, from up to LANDMARKS landmarks."""

    def __init__(self, digraph: Digraph, graph: Graph) -> None:
        mirror = np.array(digraph.mirror, dtype=np.intp)
        tails = np.array(digraph.arc_tail, dtype=np.intp)
        linked = np.bincount(tails, minlength=len(mirror)) > 0
        candidates = np.flatnonzero((mirror == np.arange(len(mirror))) & linked)
        to_landmark: list[np.ndarray] = []
        nearest = np.full(len(mirror), np.inf)  # cost to the closest landmark so far
        while candidates.size and len(to_landmark) < LANDMARKS:
            # farthest from every landmark so far; the lowest node first on ties
            landmark = int(candidates[np.argmax(nearest[candidates])])
            costs = np.frombuffer(costs_to(digraph, graph, landmark), dtype=np.float64)
            to_landmark.append(costs)
            nearest = np.fmin(nearest, costs)
            candidates = candidates[candidates != landmark]
        self._to = np.array(to_landmark).reshape(len(to_landmark), len(mirror))
        self._from = self._to[:, mirror]  # cost from each landmark to each node

    def estimate_to(self, target: int) -> Callable[[int], float]:
        """A consistent lower bound of the cost from a node to `target`."""
        with np.errstate(invalid="ignore"):  # inf - inf: this landmark knows nothing
            bounds = np.fmax(self._from[:, [target]] - self._from, self._to - self._to[:, [target]])
        best: list[float] = np.fmax.reduce(bounds, axis=0, initial=0.0).tolist()
        return best.__getitem__
