"""Applying a topology descriptor to the store, and writing one from it.

Import semantics: devices, ports and links are created or updated by name (observed
state such as status is kept); nothing absent from the descriptor is deleted, so
re-importing the same file changes nothing. Ports that links use but the descriptor does
not declare are created, numbered after the highest number in use. A host's `mac`/`ip`
go on its first port, its `gateway` into its attributes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, Field, ValidationError

from netweave.inventory import checks, resolve
from netweave.inventory.errors import Conflict, Invalid, InventoryError, Loc
from netweave.inventory.inputs import cidr
from netweave.model import (
    Device,
    DeviceSpec,
    DeviceType,
    Endpoint,
    EndpointRef,
    Link,
    LinkEnd,
    LinkSpec,
    PortSpec,
    TopologyDescriptor,
)
from netweave.model.common import Entity
from netweave.model.ids import device_id, endpoint_id, link_id
from netweave.store import EntityCollection, Repository

E = TypeVar("E", bound=Entity)
T = TypeVar("T")
P = ParamSpec("P")
GATEWAY_ATTRIBUTE = "gateway"


class ImportCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class ImportResult(BaseModel):
    """What an import did, per kind of entity."""

    devices: ImportCounts = Field(default_factory=ImportCounts)
    endpoints: ImportCounts = Field(default_factory=ImportCounts)
    links: ImportCounts = Field(default_factory=ImportCounts)


def apply_descriptor(tx: Repository, descriptor: TopologyDescriptor) -> ImportResult:
    """Write everything `descriptor` declares through `tx` (the caller's transaction)."""
    _check_unique_names(descriptor)
    result = ImportResult()
    devices = {
        spec.name: _at(("devices", index), _upsert_device, tx, spec, result.devices)
        for index, spec in enumerate(descriptor.devices)
    }
    ports = _Ports(tx)
    for index, spec in enumerate(descriptor.devices):
        for position, port in enumerate(spec.ports):
            ports.declare(devices[spec.name], port, ("devices", index, "ports", position))
    link_ports = [
        {
            end: ports.ensure(_link_device(tx, devices, link, end, index), getattr(link, end).port)
            for end in ("a", "b")
        }
        for index, link in enumerate(descriptor.links)
    ]
    for index, spec in enumerate(descriptor.devices):
        _at(("devices", index), _address_host, spec, devices[spec.name], ports)
    written = ports.write(result.endpoints)
    declared = {link.effective_name for link in descriptor.links}  # their ends may move
    users = {port: user for port, user in checks.port_users(tx).items() if user not in declared}
    for index, link in enumerate(descriptor.links):
        ends = {end: written[key] for end, key in link_ports[index].items()}
        _at(("links", index), _upsert_link, tx, link, ends, users, result.links)
    return result


def _at(loc: Loc, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `function`, locating its errors inside `loc` of the descriptor."""
    try:
        return function(*args, **kwargs)
    except InventoryError as exc:
        raise exc.within(*loc) from None


def _check_unique_names(descriptor: TopologyDescriptor) -> None:
    def refuse_duplicates(names: list[str], where: tuple[str | int, ...]) -> None:
        for name, count in Counter(names).items():
            if count > 1:
                index = len(names) - 1 - names[::-1].index(name)
                raise Invalid((*where, index, "name"), f"{name!r} is declared {count} times")

    refuse_duplicates([d.name for d in descriptor.devices], ("devices",))
    for index, device in enumerate(descriptor.devices):
        refuse_duplicates([p.name for p in device.ports], ("devices", index, "ports"))
    refuse_duplicates([link.effective_name for link in descriptor.links], ("links",))


def _upsert(
    collection: EntityCollection[E],
    model: type[E],
    new_id: str,
    name: str,
    declared: dict[str, Any],
    counts: ImportCounts,
    scope: str = "",
) -> E:
    """Create the entity named `name` or bring the stored one to the declared fields."""
    stored = collection.find_by_name(name, scope)
    base = {"id": new_id, "name": name} if stored is None else stored.model_dump()
    try:
        entity = model.model_validate({**base, **declared})
    except ValidationError as exc:
        raise Invalid.from_validation(exc) from exc
    if stored is None:
        counts.created += 1
        return collection.add(entity)
    if entity == stored:
        counts.unchanged += 1
        return stored
    counts.updated += 1
    return collection.update(entity)


def _upsert_device(tx: Repository, spec: DeviceSpec, counts: ImportCounts) -> Device:
    attributes = dict(spec.attributes)
    if spec.gateway is not None:
        attributes[GATEWAY_ATTRIBUTE] = spec.gateway
    if spec.type == DeviceType.SWITCH and "openflow" in spec.drivers:
        # The id the lab gives the bridge, so the OpenFlow driver finds the switch.
        try:
            attributes["datapath_id"] = spec.datapath_id
        except ValueError as exc:
            raise Invalid(("attributes", "datapath_id"), str(exc)) from None
    declared = {
        "type": spec.type,
        "drivers": spec.drivers,
        "address": spec.address,
        "attributes": attributes,
    }
    return _upsert(tx.devices, Device, device_id(spec.name), spec.name, declared, counts)


def _link_device(
    tx: Repository, devices: dict[str, Device], spec: LinkSpec, end: str, index: int
) -> Device:
    """The device at one end of a link: declared in the descriptor, or already stored."""
    name = getattr(spec, end).device
    found = devices.get(name) or resolve.find(tx.devices, name)
    if found is None:
        raise Invalid(("links", index, end, "device"), f"no device named {name!r}")
    return found


@dataclass
class _Port:
    device: Device
    name: str
    declared: dict[str, Any]
    loc: Loc


class _Ports:
    """The ports an import touches: declared, implied by links, or (hosts) already stored."""

    def __init__(self, tx: Repository) -> None:
        self._tx = tx
        self._ports: dict[tuple[str, str], _Port] = {}

    def declare(self, device: Device, spec: PortSpec, loc: Loc) -> None:
        declared = spec.model_dump(exclude={"name"}, exclude_none=True)
        self._ports[(device.id, spec.name)] = _Port(device, spec.name, declared, loc)

    def ensure(self, device: Device, name: str) -> tuple[str, str]:
        """The key of port `name` of `device`, which is implied if nothing declares it."""
        key = (device.id, name)
        self._ports.setdefault(key, _Port(device, name, {}, ()))
        return key

    def first_of(self, device: Device) -> _Port | None:
        """The host's first port: its first declared or implied one, else its first stored."""
        for port in self._ports.values():
            if port.device.id == device.id:
                return port
        stored = sorted(self._tx.endpoints.list(scope=device.id), key=_port_order)
        return self._ports[self.ensure(device, stored[0].name)] if stored else None

    def write(self, counts: ImportCounts) -> dict[tuple[str, str], Endpoint]:
        """Number the new ports, then create or update every port."""
        self._number()
        return {
            key: _at(
                port.loc,
                _upsert,
                self._tx.endpoints,
                Endpoint,
                endpoint_id(port.device.name, port.name),
                port.name,
                {"device_id": port.device.id, **port.declared},
                counts,
                port.device.id,
            )
            for key, port in self._ports.items()
        }

    def _number(self) -> None:
        devices = {port.device.id for port in self._ports.values()}
        taken = {dev: self._stored_numbers(dev) for dev in devices}
        for port in self._ports.values():
            number = port.declared.get("number")
            owner = taken[port.device.id].get(number) if number is not None else None
            if owner is not None and owner != port.name:
                raise Conflict((*port.loc, "number"), f"port number {number} is used by {owner!r}")
            if number is not None:
                taken[port.device.id][number] = port.name
        for port in self._ports.values():
            stored = self._tx.endpoints.find_by_name(port.name, port.device.id)
            if "number" in port.declared or (stored is not None and stored.number is not None):
                continue
            numbers = taken[port.device.id]
            port.declared["number"] = max(numbers, default=0) + 1
            numbers[port.declared["number"]] = port.name

    def _stored_numbers(self, device: str) -> dict[int, str]:
        return {
            port.number: port.name
            for port in self._tx.endpoints.list(scope=device)
            if port.number is not None
        }


def _port_order(port: Endpoint) -> tuple[bool, int, str]:
    return (port.number is None, port.number or 0, port.name)


def _address_host(spec: DeviceSpec, device: Device, ports: _Ports) -> None:
    """Put a host's declared mac and ip on its first port."""
    if spec.mac is None and spec.ip is None:
        return
    field = "mac" if spec.mac is not None else "ip"
    if spec.type is not DeviceType.HOST:
        raise Invalid(field, f"only hosts carry a device-level {field}; set it on a port")
    first = ports.first_of(device)
    if first is None:
        raise Invalid(field, f"host {spec.name!r} has no port to carry it")
    if spec.mac is not None:
        if first.declared.get("mac", spec.mac) != spec.mac:
            raise Invalid("mac", f"differs from the mac of its first port {first.name!r}")
        first.declared["mac"] = spec.mac
    if spec.ip is not None:
        try:
            first.declared["ip"] = cidr(spec.ip)
        except ValueError as exc:
            raise Invalid("ip", str(exc)) from None


def _upsert_link(
    tx: Repository,
    spec: LinkSpec,
    ends: dict[str, Endpoint],
    users: dict[str, str],
    counts: ImportCounts,
) -> Link:
    """Create or update one link; `users` (port id -> link name) records its ports."""
    name = spec.effective_name
    if ends["a"].id == ends["b"].id:
        raise Invalid("b", "is the same port as a: a link joins two different ports")
    checks.claim_ports(tx, ends, name, users)
    declared = {
        end: EndpointRef(device_id=port.device_id, endpoint_id=port.id)
        for end, port in ends.items()
    } | spec.model_dump(include={"capacity_bps", "latency_ms", "cost"})
    users[ends["a"].id] = users[ends["b"].id] = name
    return _upsert(tx.links, Link, link_id(name), name, declared, counts)


def export_descriptor(repo: Repository, name: str) -> TopologyDescriptor:
    """The descriptor of everything stored (credentials and observed state left out)."""
    devices = repo.devices.list()
    ports: dict[str, list[Endpoint]] = {device.id: [] for device in devices}
    for port in sorted(repo.endpoints.list(), key=_port_order):
        ports.setdefault(port.device_id, []).append(port)
    names = {device.id: device.name for device in devices}
    port_names = {port.id: port.name for group in ports.values() for port in group}

    def end(ref: EndpointRef) -> LinkEnd:
        return LinkEnd(device=names[ref.device_id], port=port_names[ref.endpoint_id])

    return TopologyDescriptor(
        name=name,
        devices=[_device_spec(device, ports[device.id]) for device in devices],
        links=[
            LinkSpec(
                name=link.name,
                a=end(link.a),
                b=end(link.b),
                capacity_bps=link.capacity_bps,
                latency_ms=link.latency_ms,
                cost=link.cost,
            )
            for link in repo.links.list()
        ],
    )


def _device_spec(device: Device, ports: list[Endpoint]) -> DeviceSpec:
    attributes = dict(device.attributes)
    gateway = attributes.pop(GATEWAY_ATTRIBUTE, None)
    host_port = next((p for p in ports if p.ip or p.mac), None)
    if device.type is not DeviceType.HOST or host_port is None:
        host_port = None
    else:  # the port carrying the host's address goes first, as on import
        ports = [host_port, *(p for p in ports if p is not host_port)]
    return DeviceSpec(
        name=device.name,
        type=device.type,
        drivers=device.drivers,
        address=device.address,
        attributes=attributes,
        ports=[
            PortSpec(
                name=port.name,
                number=port.number,
                mac=None if port is host_port else port.mac,
                speed_bps=port.speed_bps,
            )
            for port in ports
        ],
        ip=host_port.ip if host_port else None,
        mac=host_port.mac if host_port else None,
        gateway=gateway,
    )
