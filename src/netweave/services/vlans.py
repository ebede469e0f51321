"""The VLAN pool: each provisioned service holds one VLAN id, unique network-wide."""

from __future__ import annotations

from collections.abc import Iterable

from netweave.services.errors import ResourceConflict

FIRST_VLAN = 100
LAST_VLAN = 4094


class VlanPool:
    """Hands out the lowest free VLAN id in [`first`, `last`], given those in use."""

    def __init__(self, used: Iterable[int], first: int = FIRST_VLAN, last: int = LAST_VLAN) -> None:
        if not 1 <= first <= last <= LAST_VLAN:
            raise ValueError(f"VLAN range {first}-{last} is not within 1-{LAST_VLAN}")
        self._used = set(used)
        self._first = first
        self._last = last
        self._next = first

    def take(self) -> int:
        """A free VLAN id, now in use; `ResourceConflict` when none is left."""
        while self._next <= self._last:
            vlan = self._next
            self._next += 1
            if vlan not in self._used:
                self._used.add(vlan)
                return vlan
        raise ResourceConflict(
            ("endpoints",), f"all VLAN ids {self._first}-{self._last} are in use by services"
        )

    def give_back(self, vlan: int) -> None:
        self._used.discard(vlan)
        if self._first <= vlan < self._next:
            self._next = vlan
