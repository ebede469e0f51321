"""Writes what devices report (status, ports, port state) into the store's topology.

Port state drives link state: a declared link is up when no end is down and one is up
(an end on a device without a driver, e.g. a host, reports nothing);
a discovered link whose endpoint goes down is removed (discovery adds it back).
"""

from __future__ import annotations

from collections.abc import Sequence

from netweave.drivers import PortState
from netweave.model import Device, Endpoint, Link, LinkOrigin, OperStatus
from netweave.model.ids import endpoint_id
from netweave.store import Repository


def port_to_endpoint(device: Device, port: PortState, existing: Endpoint | None) -> Endpoint:
    """The endpoint a reported port maps to. A stored endpoint keeps its id and name (a
    descriptor's ``eth1`` stays ``eth1`` whatever the device calls it) and the MAC/speed
    the device omits."""
    return Endpoint(
        id=existing.id if existing else endpoint_id(device.name, port.name),
        name=existing.name if existing else port.name,
        device_id=device.id,
        number=port.number,
        mac=port.mac or (existing.mac if existing else None),
        speed_bps=port.speed_bps or (existing.speed_bps if existing else None),
        status=port.status,
    )


def sync_ports(repo: Repository, device: Device, ports: Sequence[PortState]) -> list[Endpoint]:
    """Create or update the device's endpoints from its reported ports, matched by port
    number first, then by name; returns the endpoints whose status changed (their links
    need re-evaluation)."""
    stored = repo.endpoints.list(scope=device.id)
    by_number = {e.number: e for e in stored if e.number is not None}
    by_name = {e.name: e for e in stored}
    changed: list[Endpoint] = []
    for port in ports:
        existing = by_number.get(port.number) if port.number is not None else None
        existing = existing or by_name.get(port.name)
        endpoint = port_to_endpoint(device, port, existing)
        if existing is None:
            repo.endpoints.add(endpoint)
            changed.append(endpoint)
        elif endpoint != existing:
            repo.endpoints.update(endpoint)
            if endpoint.status != existing.status:
                changed.append(endpoint)
    return changed


def set_device_status(repo: Repository, device_id: str, status: OperStatus) -> Device | None:
    device = repo.devices.find(device_id)
    if device is None or device.status == status:
        return device
    return repo.devices.update(device.model_copy(update={"status": status}))


def links_of(repo: Repository, endpoint_ids: set[str]) -> list[Link]:
    return [
        link
        for link in repo.links.list()
        if link.a.endpoint_id in endpoint_ids or link.b.endpoint_id in endpoint_ids
    ]


def refresh_links(repo: Repository, endpoints: Sequence[Endpoint]) -> None:
    """Re-derive the status of every link touching `endpoints`."""
    if not endpoints:
        return
    for link in links_of(repo, {e.id for e in endpoints}):
        ends = [repo.endpoints.find(link.a.endpoint_id), repo.endpoints.find(link.b.endpoint_id)]
        statuses = [e.status if e else OperStatus.DOWN for e in ends]
        ends_up = OperStatus.DOWN not in statuses and OperStatus.UP in statuses
        if not ends_up and link.origin == LinkOrigin.DISCOVERED:
            repo.links.delete(link.id)
            continue
        status = OperStatus.UP if ends_up else OperStatus.DOWN
        if link.status != status:
            repo.links.update(link.model_copy(update={"status": status}))


def set_port_status(repo: Repository, device: Device, port: PortState) -> None:
    """Apply one port-status event: the endpoint, then its links."""
    refresh_links(repo, sync_ports(repo, device, [port]))
