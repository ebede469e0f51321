"""Why a service cannot be provisioned, naming the service field at fault.

ProvisionError          the service cannot be set up as asked
├── Infeasible          its input or constraints cannot be met (a 422 at the API)
└── ResourceConflict    something it needs is taken (a port, the VLAN pool; a 409)
"""

from __future__ import annotations

Loc = tuple[str | int, ...]


class ProvisionError(Exception):
    """`loc` locates the service field at fault (e.g. ``("constraints", "max_hops")``)."""

    def __init__(self, loc: Loc, reason: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {reason}")
        self.loc = loc
        self.reason = reason


class Infeasible(ProvisionError):
    """The service's endpoints or constraints cannot be met by the topology."""


class ResourceConflict(ProvisionError):
    """A resource the service needs is already used."""
