"""Consistency checks shared by the inventory's writes and the descriptor import."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from netweave.inventory import resolve
from netweave.inventory.errors import Conflict, Invalid, Loc, parse_loc
from netweave.inventory.inputs import PortRef
from netweave.model import Device, Endpoint
from netweave.model.common import Entity
from netweave.store import EntityCollection, Repository

E = TypeVar("E", bound=Entity)


def add_unique(collection: EntityCollection[E], entity: E, scope: str = "") -> E:
    """Add `entity`, refusing a duplicate name with a clear message."""
    if collection.find_by_name(entity.name, scope) is not None:
        raise Conflict("name", f"{collection.kind} {entity.name!r} already exists")
    return collection.add(entity)


def changed(
    entity: E, changes: BaseModel, replace: bool, exclude: frozenset[str] = frozenset()
) -> E:
    """`entity` with the fields of `changes` (but `exclude`) applied and re-validated."""
    fields = changes.model_dump(exclude_unset=not replace, exclude=set(exclude))
    try:
        return type(entity).model_validate({**entity.model_dump(), **fields})
    except ValidationError as exc:
        raise Invalid.from_validation(exc) from exc


def port(repo: Repository, ref: PortRef, field: str | Loc) -> tuple[Device, Endpoint]:
    """The device and port `ref` names; unknown ones are invalid input at `field`."""
    try:
        device = resolve.device(repo, ref.device, "device", missing=Invalid)
        return device, resolve.endpoint_of(repo, device, ref.endpoint, missing=Invalid)
    except Invalid as exc:
        raise exc.within(*parse_loc(field)) from None


def lock(repo: Repository, port: Endpoint) -> None:
    """Touch `port`, so that concurrent transactions that also depend on it (linking it,
    deleting it) conflict and are re-run, instead of both succeeding."""
    repo.endpoints.touch([port.id])


def port_users(repo: Repository) -> dict[str, str]:
    """The name of the link on each linked port, by port id."""
    users: dict[str, str] = {}
    for link in repo.links.list():
        users[link.a.endpoint_id] = users[link.b.endpoint_id] = link.name
    return users


def claim_ports(
    repo: Repository, ports: dict[str, Endpoint], link_name: str, users: dict[str, str]
) -> None:
    """Lock `ports` (by end) for the link `link_name`, refusing any that another link
    uses according to `users` (see `port_users`)."""
    for end, port in ports.items():
        lock(repo, port)
        user = users.get(port.id, link_name)
        if user != link_name:
            raise Conflict(
                f"{end}.endpoint", f"port {port.name!r} is already used by link {user!r}"
            )


def check_port_number(repo: Repository, endpoint: Endpoint) -> None:
    if endpoint.number is None:
        return
    for other in repo.endpoints.list(scope=endpoint.device_id):
        if other.number == endpoint.number and other.id != endpoint.id:
            raise Conflict("number", f"port number {endpoint.number} is used by {other.name!r}")


def refuse_if_used(repo: Repository, endpoint_ids: set[str], field: str, what: str) -> None:
    users = [f"link {link.name!r}" for link in resolve.links_using(repo, endpoint_ids)]
    users += [f"service {svc.name!r}" for svc in resolve.services_using(repo, endpoint_ids)]
    if users:
        raise Conflict(field, f"{what} is still used by {', '.join(users)}; delete them first")
