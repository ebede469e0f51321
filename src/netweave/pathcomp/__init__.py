"""Path computation over a topology snapshot: shortest, k-shortest, disjoint pairs.

Pure computation on rustworkx (no store, no I/O): build a `PathGraph` from devices and
links, then ask it for paths with `PathRequest`s. Failures raise `NoPathError`, whose
`constraint` names what could not be met.
"""

from netweave.pathcomp.errors import Constraint, NoPathError
from netweave.pathcomp.graph import PathGraph
from netweave.pathcomp.request import Path, PathRequest

__all__ = ["Constraint", "NoPathError", "Path", "PathGraph", "PathRequest"]
