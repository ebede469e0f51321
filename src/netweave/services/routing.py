"""Routes of services: edge switch ports, then the paths between them. A p2p service
gets one route (with protection, a disjoint backup too); an L2VPN or L3VPN one branch
per endpoint after the first.

A service endpoint is a switch port, or a host port followed over the host's link (its
access link) to the switch port it reaches. The path between the two edge switches comes
from `pathcomp`; the access links count towards the service's bandwidth, latency and hop
constraints like any other link.

A multipoint service's branches form a tree: each follows the branches before it from
the first endpoint (the root) up to the last switch it shares with them. Its bandwidth
is the rate each endpoint (site) may send into the service; the tree holds it in the
hose model (`hose`). Only sending is policed, and what a site receives is not bounded (an
L2VPN floods every frame to every site; several L3VPN sites may send to one): a link
with k sites on one side and n - k on the other carries up to k times the bandwidth one
way and n - k times it the other. Link capacity is per direction, so the link reserves
the busier one, max(k, n - k) times the bandwidth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from netweave.model import (
    DeviceType,
    Endpoint,
    EndpointRef,
    Hop,
    Link,
    OperStatus,
    Protection,
    Service,
)
from netweave.pathcomp import Constraint, NoPathError, Path, PathRequest
from netweave.services.errors import Infeasible, Loc
from netweave.services.snapshot import Snapshot

PROTECTION: Loc = ("constraints", "protection")
_CONSTRAINT_FIELDS = {
    Constraint.BANDWIDTH,
    Constraint.MAX_LATENCY,
    Constraint.MAX_HOPS,
    Constraint.EXCLUDE_DEVICES,
    Constraint.EXCLUDE_LINKS,
}


@dataclass(frozen=True)
class Route:
    """Switch hops from the first endpoint to the second, and every link used."""

    hops: list[Hop]
    link_ids: list[str]


@dataclass(frozen=True)
class _Edge:
    port: Endpoint  # the switch port where the service enters and leaves
    access: Link | None  # the host's link to that port, for a host endpoint


def route(snap: Snapshot, service: Service) -> list[Route]:
    """A p2p service's best route meeting its constraints, and with protection a
    disjoint backup route after it; `Infeasible` names the field at fault."""
    first, second = (_edge(snap, ref, index) for index, ref in enumerate(service.endpoints))
    if first.port.id == second.port.id:
        raise Infeasible(("endpoints", 1), "reaches the same switch port as endpoints[0]")
    return _routes(snap, service, first, second)


def branches(snap: Snapshot, service: Service) -> list[Route]:
    """A multipoint service's branches, from its first endpoint to each other one in order:
    the best route meeting the service's constraints, grafted onto the tree of the
    branches before it; `Infeasible` also when a tree link lacks its hose reservation."""
    constraints = service.constraints
    if constraints.protection is not Protection.NONE:
        raise Infeasible(PROTECTION, f"{service.type} services are not protected yet (p2p are)")
    edges = [_edge(snap, ref, index) for index, ref in enumerate(service.endpoints)]
    for index, edge in enumerate(edges):
        if any(other.port.id == edge.port.id for other in edges[:index]):
            raise Infeasible(("endpoints", index), "reaches a switch port another endpoint reaches")
    rooted = edges[0].access is not None
    found: list[Route] = []
    for leaf in edges[1:]:
        found.append(_grafted(found, _routes(snap, service, edges[0], leaf)[0], rooted))
    _check_hose(snap, found, constraints.bandwidth_bps or 0)
    return found


def hose(branch_links: Sequence[Sequence[str]], bandwidth_bps: int) -> dict[str, int]:
    """What the tree of branches (their link ids, each from the root to its site) carries
    on each link in its busier direction, each site sending at most `bandwidth_bps`: the
    k branches over a link reach the k sites on its far side, the n - k others are on its
    near side (the root's among them); all the sites of one side may send across it at
    once (receiving is not policed), so it carries up to max(k, n - k) times the bandwidth."""
    sites = len(branch_links) + 1
    counts = Counter(link_id for links in branch_links for link_id in dict.fromkeys(links))
    return {link_id: max(k, sites - k) * bandwidth_bps for link_id, k in counts.items()}


def _grafted(tree: list[Route], branch: Route, rooted: bool) -> Route:
    """`branch` following the `tree` (routes from the same root; with a root access link
    when `rooted`) up to the last switch of `branch` that is in the tree, then its own way."""
    offset = int(rooted)  # the root access link comes before the path's links
    known: dict[str, tuple[list[Hop], list[str]]] = {}
    for route in tree:
        for index, hop in enumerate(route.hops):
            known.setdefault(
                hop.device_id, (route.hops[: index + 1], route.link_ids[: offset + index])
            )
    attach = max(i for i, hop in enumerate(branch.hops) if i == 0 or hop.device_id in known)
    if attach == 0:
        return branch
    hops, links = known[branch.hops[attach].device_id]
    joint = hops[-1].model_copy(
        update={"egress_endpoint_id": branch.hops[attach].egress_endpoint_id}
    )
    return Route(
        [*hops[:-1], joint, *branch.hops[attach + 1 :]],
        [*links, *branch.link_ids[offset + attach :]],
    )


def _check_hose(snap: Snapshot, found: list[Route], bandwidth_bps: int) -> None:
    """Refuse the tree of `found` branches if a link of it lacks its hose reservation."""
    sites = len(found) + 1
    for link_id, needed in hose([route.link_ids for route in found], bandwidth_bps).items():
        link = snap.links[link_id]
        if needed > link.unreserved_bps:
            share = needed // bandwidth_bps
            raise Infeasible(
                ("constraints", "bandwidth_bps"),
                f"link {link.name!r} has {link.unreserved_bps} bit/s unreserved, {needed}"
                f" needed ({share} x the bandwidth: {share} of the {sites} sites are on its"
                " busier side and may all send across it)",
            )


def _routes(snap: Snapshot, service: Service, first: _Edge, second: _Edge) -> list[Route]:
    """The route(s) between two edges meeting `service`'s constraints: a primary, and a
    disjoint backup when the service is protected."""
    access = [edge.access for edge in (first, second) if edge.access is not None]
    _check_access(service, access)
    constraints = service.constraints
    protected = constraints.protection is not Protection.NONE
    latency_left = (
        None
        if constraints.max_latency_ms is None
        else constraints.max_latency_ms - sum(link.latency_ms for link in access)
    )
    hops_left = None if constraints.max_hops is None else constraints.max_hops - len(access)
    src, dst = first.port.device_id, second.port.device_id
    if src == dst:
        if protected:
            raise Infeasible(PROTECTION, "both endpoints are on one switch: no path to protect")
        _check_limits(latency_left, hops_left, needed_hops=0)
        hop = Hop(
            device_id=src, ingress_endpoint_id=first.port.id, egress_endpoint_id=second.port.id
        )
        return [Route([hop], [link.id for link in access])]
    _check_limits(latency_left, hops_left, needed_hops=1)
    request = PathRequest(
        src_device_id=src,
        dst_device_id=dst,
        bandwidth_bps=constraints.bandwidth_bps or None,
        max_latency_ms=latency_left,
        max_hops=hops_left,
        exclude_devices=tuple(constraints.exclude_devices),
        exclude_links=tuple(constraints.exclude_links),
        disjoint=constraints.disjointness if protected else None,
    )
    try:
        paths = snap.graph.compute(request)
    except NoPathError as exc:
        raise Infeasible(_loc(exc.constraint), exc.reason) from None
    return [_along(snap, path, first, second) for path in paths]


def _along(snap: Snapshot, path: Path, first: _Edge, second: _Edge) -> Route:
    """The route of a switch-to-switch `path` between the two edges."""
    links = [snap.links[link_id] for link_id in path.link_ids]
    ingress = [first.port.id] + [
        _end_on(link, d) for link, d in zip(links, path.device_ids[1:], strict=True)
    ]
    egress = [_end_on(link, d) for link, d in zip(links, path.device_ids[:-1], strict=True)]
    hops = [
        Hop(device_id=device, ingress_endpoint_id=inp, egress_endpoint_id=out)
        for device, inp, out in zip(
            path.device_ids, ingress, [*egress, second.port.id], strict=True
        )
    ]
    before = [first.access.id] if first.access is not None else []
    after = [second.access.id] if second.access is not None else []
    return Route(hops, [*before, *path.link_ids, *after])


def _edge(snap: Snapshot, ref: EndpointRef, index: int) -> _Edge:
    endpoint = snap.endpoint(ref.endpoint_id)
    device = snap.devices.get(ref.device_id)
    if endpoint is None or device is None or endpoint.device_id != device.id:
        raise Infeasible(("endpoints", index), f"unknown endpoint {ref.endpoint_id!r}")
    if device.type is not DeviceType.HOST:
        return _Edge(endpoint, None)
    where = f"host port {device.name}:{endpoint.name}"
    link = snap.link_at.get(endpoint.id)
    if link is None:
        raise Infeasible(("endpoints", index), f"{where} is not linked to a switch")
    far = link.b if link.a.endpoint_id == endpoint.id else link.a
    if snap.devices[far.device_id].type is DeviceType.HOST:
        raise Infeasible(("endpoints", index), f"{where} is linked to another host")
    if link.status is OperStatus.DOWN:
        raise Infeasible(("endpoints", index), f"{where}: its link {link.name!r} is down")
    port = snap.endpoint(far.endpoint_id)
    if port is None:
        raise Infeasible(
            ("endpoints", index), f"{where}: its link {link.name!r} leads to an unknown port"
        )
    return _Edge(port, link)


def _check_access(service: Service, access: list[Link]) -> None:
    constraints = service.constraints
    for link in access:
        if link.id in constraints.exclude_links:
            raise Infeasible(
                ("constraints", "exclude_links"), f"excludes the access link {link.name!r}"
            )
        wanted = constraints.bandwidth_bps or 0
        if wanted > link.unreserved_bps:
            raise Infeasible(
                ("constraints", "bandwidth_bps"),
                f"access link {link.name!r} has {link.unreserved_bps} bit/s unreserved,"
                f" {wanted} needed",
            )


def _check_limits(latency_left: float | None, hops_left: int | None, needed_hops: int) -> None:
    if latency_left is not None and (latency_left < 0 or (latency_left == 0 and needed_hops)):
        raise Infeasible(
            ("constraints", "max_latency_ms"), "the access links alone use the latency budget"
        )
    if hops_left is not None and hops_left < needed_hops:
        raise Infeasible(("constraints", "max_hops"), "the access links alone use the hop budget")


def _end_on(link: Link, device_id: str) -> str:
    """The endpoint of `link` on `device_id`."""
    return link.a.endpoint_id if link.a.device_id == device_id else link.b.endpoint_id


def _loc(constraint: Constraint) -> Loc:
    if constraint in _CONSTRAINT_FIELDS:
        return ("constraints", str(constraint))
    if constraint is Constraint.DISJOINT:
        return PROTECTION
    if constraint is Constraint.SEARCH_LIMIT:
        return ("constraints",)
    return ("endpoints",)
