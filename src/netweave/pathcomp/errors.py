"""Why no path could be found, naming the constraint (request field) at fault."""

from __future__ import annotations

from enum import StrEnum


class Constraint(StrEnum):
    """What made a path request fail; mostly the name of the request field at fault."""

    SRC_DEVICE_ID = "src_device_id"
    DST_DEVICE_ID = "dst_device_id"
    EXCLUDE_DEVICES = "exclude_devices"
    EXCLUDE_LINKS = "exclude_links"
    BANDWIDTH = "bandwidth_bps"
    MAX_LATENCY = "max_latency_ms"
    MAX_HOPS = "max_hops"
    DISJOINT = "disjoint"
    CONNECTIVITY = "connectivity"  # the topology itself: no path even without constraints
    SEARCH_LIMIT = "search_limit"  # feasible paths may exist beyond the paths examined


class NoPathError(Exception):
    """No path satisfies the request; `constraint` names what failed, `reason` says how."""

    def __init__(self, reason: str, constraint: Constraint) -> None:
        super().__init__(f"{constraint}: {reason}")
        self.reason = reason
        self.constraint = constraint
