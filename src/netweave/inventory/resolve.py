"""Turning the names and ids users write into stored entities."""

from __future__ import annotations

from typing import TypeVar

from netweave.inventory.errors import InventoryError, NotFound
from netweave.model import Device, Endpoint, Link, Service
from netweave.model.common import Entity
from netweave.model.ids import is_id
from netweave.store import EntityCollection, Repository

E = TypeVar("E", bound=Entity)


def find(collection: EntityCollection[E], ref: str, scope: str = "") -> E | None:
    """The entity whose id or (in `scope`) name is `ref`."""
    found = collection.find(ref) if is_id(ref) else None
    return found if found is not None else collection.find_by_name(ref, scope)


def _describe(ref: str) -> str:
    return f"with id {ref!r}" if is_id(ref) else f"named {ref!r}"


def device(
    repo: Repository, ref: str, field: str = "device", missing: type[InventoryError] = NotFound
) -> Device:
    found = find(repo.devices, ref)
    if found is None:
        raise missing(field, f"no device {_describe(ref)}")
    return found


def endpoint_of(
    repo: Repository,
    owner: Device,
    ref: str,
    field: str = "endpoint",
    missing: type[InventoryError] = NotFound,
) -> Endpoint:
    found = find(repo.endpoints, ref, owner.id)
    if found is None or found.device_id != owner.id:
        raise missing(field, f"device {owner.name!r} has no port {ref!r}")
    return found


def endpoint(repo: Repository, endpoint_id: str) -> Endpoint:
    found = repo.endpoints.find(endpoint_id)
    if found is None:
        raise NotFound("endpoint", f"no endpoint with id {endpoint_id!r}")
    return found


def link(repo: Repository, ref: str) -> Link:
    found = find(repo.links, ref)
    if found is None:
        raise NotFound("link", f"no link {_describe(ref)}")
    return found


def service(repo: Repository, ref: str) -> Service:
    found = find(repo.services, ref)
    if found is None:
        raise NotFound("service", f"no service {_describe(ref)}")
    return found


def links_using(repo: Repository, endpoint_ids: set[str]) -> list[Link]:
    """The links with an end on one of `endpoint_ids`."""
    return [
        item
        for item in repo.links.list()
        if item.a.endpoint_id in endpoint_ids or item.b.endpoint_id in endpoint_ids
    ]


def services_using(repo: Repository, endpoint_ids: set[str]) -> list[Service]:
    """The services with an endpoint among `endpoint_ids`."""
    return [
        item
        for item in repo.services.list()
        if any(ref.endpoint_id in endpoint_ids for ref in item.endpoints)
    ]
