"""The inventory service: validated create/read/update/delete of devices, endpoints,
links and services, and topology import/export, over the store; events go to the bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from netweave.bus import EventBus
from netweave.inventory import checks, resolve
from netweave.inventory.descriptor import LineMap, load_descriptor
from netweave.inventory.errors import Busy, Conflict, Invalid, InventoryError, NotFound
from netweave.inventory.events import publish_changes
from netweave.inventory.inputs import (
    DeviceCreate,
    DeviceUpdate,
    EndpointCreate,
    EndpointUpdate,
    LinkCreate,
    LinkUpdate,
    PortRef,
    ServiceDraft,
    ServiceUpdate,
)
from netweave.inventory.topology import ImportResult, apply_descriptor, export_descriptor
from netweave.model import (
    Device,
    Endpoint,
    EndpointRef,
    Link,
    Service,
    ServiceStatus,
    ServiceType,
    Topology,
    TopologyDescriptor,
)
from netweave.model.ids import device_id, endpoint_id, link_id, service_id
from netweave.services import Infeasible, Provisioning, ResourceConflict
from netweave.store import ConflictError, NotFoundError, Repository, Store, TransientError

T = TypeVar("T")


class Inventory:
    """The business layer the API and CLI use. Create one per store: it subscribes the
    bus to the store's commits. Every method is safe to call from many threads."""

    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        publish_changes(store, bus)

    def _write(self, work: Callable[[Repository], T]) -> T:
        """Run `work` as one all-or-nothing transaction (re-run if it loses a race with a
        concurrent one); store errors become inventory errors."""
        try:
            return self._store.run(work)
        except ConflictError as exc:
            raise Conflict(exc.field or "name", exc.message) from exc
        except NotFoundError as exc:
            raise NotFound(exc.kind, str(exc)) from exc
        except TransientError as exc:
            raise Busy("", "too many concurrent writes to the same entities; retry") from exc

    def health(self) -> None:
        """Raises when the store cannot be read."""
        with self._store.read() as repo:
            repo.devices.count()

    # -- devices ----------------------------------------------------------------------

    def list_devices(self) -> list[Device]:
        with self._store.read() as repo:
            return repo.devices.list()

    def get_device(self, ref: str) -> Device:
        with self._store.read() as repo:
            return resolve.device(repo, ref)

    def create_device(self, spec: DeviceCreate) -> Device:
        device = Device(id=device_id(spec.name), **spec.model_dump())
        return self._write(lambda tx: checks.add_unique(tx.devices, device))

    def update_device(self, ref: str, changes: DeviceUpdate, *, replace: bool = False) -> Device:
        """Change the given fields (all of them, defaults included, when `replace`)."""
        return self._write(
            lambda tx: tx.devices.update(checks.changed(resolve.device(tx, ref), changes, replace))
        )

    def delete_device(self, ref: str) -> Device:
        """Delete a device and its ports; refused while links or services use them."""

        def work(tx: Repository) -> Device:
            device = resolve.device(tx, ref)
            ports = tx.endpoints.list(scope=device.id)
            checks.refuse_if_used(tx, {p.id for p in ports}, "device", repr(device.name))
            for port in ports:
                tx.endpoints.delete(port.id)
            return tx.devices.delete(device.id)

        return self._write(work)

    # -- endpoints --------------------------------------------------------------------

    def list_endpoints(self, device_ref: str | None = None) -> list[Endpoint]:
        with self._store.read() as repo:
            if device_ref is None:
                return repo.endpoints.list()
            return repo.endpoints.list(scope=resolve.device(repo, device_ref).id)

    def get_endpoint(self, endpoint_id_: str) -> Endpoint:
        with self._store.read() as repo:
            return resolve.endpoint(repo, endpoint_id_)

    def create_endpoint(self, device_ref: str, spec: EndpointCreate) -> Endpoint:
        def work(tx: Repository) -> Endpoint:
            device = resolve.device(tx, device_ref)
            endpoint = Endpoint(
                id=endpoint_id(device.name, spec.name), device_id=device.id, **spec.model_dump()
            )
            checks.check_port_number(tx, endpoint)
            return checks.add_unique(tx.endpoints, endpoint, scope=device.id)

        return self._write(work)

    def update_endpoint(
        self, endpoint_id_: str, changes: EndpointUpdate, *, replace: bool = False
    ) -> Endpoint:
        def work(tx: Repository) -> Endpoint:
            endpoint = checks.changed(resolve.endpoint(tx, endpoint_id_), changes, replace)
            checks.check_port_number(tx, endpoint)
            return tx.endpoints.update(endpoint)

        return self._write(work)

    def delete_endpoint(self, endpoint_id_: str) -> Endpoint:
        """Delete a port; refused while a link or service uses it."""

        def work(tx: Repository) -> Endpoint:
            endpoint = resolve.endpoint(tx, endpoint_id_)
            checks.refuse_if_used(tx, {endpoint.id}, "endpoint", repr(endpoint.name))
            return tx.endpoints.delete(endpoint.id)

        return self._write(work)

    # -- links ------------------------------------------------------------------------

    def list_links(self) -> list[Link]:
        with self._store.read() as repo:
            return repo.links.list()

    def get_link(self, ref: str) -> Link:
        with self._store.read() as repo:
            return resolve.link(repo, ref)

    def create_link(self, spec: LinkCreate) -> Link:
        """Link two existing ports that no other link uses."""

        def work(tx: Repository) -> Link:
            (dev_a, port_a), (dev_b, port_b) = (
                checks.port(tx, spec.a, "a"),
                checks.port(tx, spec.b, "b"),
            )
            if port_a.id == port_b.id:
                raise Invalid("b", "is the same port as a: a link joins two different ports")
            name = spec.name or f"{dev_a.name}:{port_a.name}--{dev_b.name}:{port_b.name}"
            if tx.links.find_by_name(name) is not None:
                raise Conflict("name", f"link {name!r} already exists")
            checks.claim_ports(tx, {"a": port_a, "b": port_b}, name, checks.port_users(tx))
            link = Link(
                id=link_id(name),
                name=name,
                a=EndpointRef(device_id=dev_a.id, endpoint_id=port_a.id),
                b=EndpointRef(device_id=dev_b.id, endpoint_id=port_b.id),
                **spec.model_dump(include=set(LinkUpdate.model_fields)),
            )
            return checks.add_unique(tx.links, link)

        return self._write(work)

    def update_link(self, ref: str, changes: LinkUpdate, *, replace: bool = False) -> Link:
        return self._write(
            lambda tx: tx.links.update(checks.changed(resolve.link(tx, ref), changes, replace))
        )

    def delete_link(self, ref: str) -> Link:
        return self._write(lambda tx: tx.links.delete(resolve.link(tx, ref).id))

    # -- services (routed and reserved synchronously; the controller installs them) ----

    def list_services(self) -> list[Service]:
        with self._store.read() as repo:
            return repo.services.list()

    def get_service(self, ref: str) -> Service:
        with self._store.read() as repo:
            return resolve.service(repo, ref)

    def create_service(self, spec: ServiceDraft) -> Service:
        """Create a service and route it (a `ServiceDraft` with fewer than two endpoints
        stays planned, waiting for them)."""

        def work(tx: Repository) -> Service:
            service = Service(
                id=service_id(spec.name),
                name=spec.name,
                type=spec.type,
                endpoints=_endpoint_refs(tx, spec.type, spec.endpoints),
                constraints=spec.constraints,
                attributes=spec.attributes,
            )
            return _provision(tx, checks.add_unique(tx.services, service))

        return self._write(work)

    def update_service(self, ref: str, changes: ServiceUpdate, *, replace: bool = False) -> Service:
        """Change a service; it is routed again (make-before-break when it is active)."""
        return self.edit_service(ref, lambda _: changes, replace=replace)

    def edit_service(
        self, ref: str, edit: Callable[[Service], ServiceUpdate], *, replace: bool = False
    ) -> Service:
        """Change a service by the changes `edit` makes of it as stored, in the same
        transaction (concurrent edits cannot interleave); then as `update_service`."""

        def work(tx: Repository) -> Service:
            service = resolve.service(tx, ref)
            changes = edit(service)
            updated = checks.changed(service, changes, replace, exclude=frozenset({"endpoints"}))
            refs = (
                updated.endpoints
                if changes.endpoints is None
                else _endpoint_refs(tx, updated.type, changes.endpoints)
            )
            return _provision(
                tx, tx.services.update(updated.model_copy(update={"endpoints": refs}))
            )

        return self._write(work)

    def delete_service(self, ref: str) -> Service:
        """Start removing a service: status `removing` until its rules are gone from the
        devices, then it is deleted (at once when it has no rules)."""

        def work(tx: Repository) -> Service:
            service = resolve.service(tx, ref)
            return Provisioning(tx).remove(service) or service

        return self._write(work)

    # -- topology ---------------------------------------------------------------------

    def topology(self) -> Topology:
        """A consistent snapshot of devices, endpoints and links."""
        with self._store.read() as repo:
            return Topology(
                devices=repo.devices.list(),
                endpoints=repo.endpoints.list(),
                links=repo.links.list(),
            )

    def import_topology(
        self, descriptor: TopologyDescriptor, lines: LineMap | None = None
    ) -> ImportResult:
        """Create or update everything `descriptor` declares, all or nothing. Errors
        locate the offending descriptor node (and its line, given the `lines` map)."""
        try:
            return self._write(lambda tx: apply_descriptor(tx, descriptor))
        except InventoryError as exc:
            if lines is None:
                raise
            raise exc.of([lines.locate(p) for p in exc.problems]) from None

    def load_topology(self, text: str, filename: str = "<descriptor>") -> ImportResult:
        """Parse a YAML or JSON descriptor and import it."""
        descriptor, lines = load_descriptor(text, filename)
        return self.import_topology(descriptor, lines)

    def export_topology(self, name: str = "topology") -> TopologyDescriptor:
        """A descriptor that re-imports to the current topology."""
        with self._store.read() as repo:
            return export_descriptor(repo, name)


def _endpoint_refs(tx: Repository, type_: ServiceType, ports: list[PortRef]) -> list[EndpointRef]:
    """The service endpoints `ports` name (each locked against concurrent deletion)."""
    if type_ is ServiceType.P2P and len(ports) > 2:
        raise Invalid("endpoints", f"a p2p service joins exactly 2 ports, not {len(ports)}")
    refs: list[EndpointRef] = []
    for index, port_ref in enumerate(ports):
        device, port = checks.port(tx, port_ref, ("endpoints", index))
        ref = EndpointRef(device_id=device.id, endpoint_id=port.id)
        if ref in refs:
            raise Invalid(("endpoints", index), "lists the same port twice")
        checks.lock(tx, port)
        refs.append(ref)
    return refs


def _provision(tx: Repository, service: Service) -> Service:
    """Route `service` now, reserving its bandwidth: infeasible constraints are refused
    (and roll the transaction back) instead of leaving a failed service behind."""
    if service.status is ServiceStatus.REMOVING:
        raise Conflict("name", f"service {service.name!r} is being removed")
    try:
        provisioned = Provisioning(tx).converge(service, strict=True, recompute=True)
    except Infeasible as exc:
        raise Invalid(exc.loc, exc.reason) from None
    except ResourceConflict as exc:
        raise Conflict(exc.loc, exc.reason) from None
    assert provisioned is not None, "only a removing service is deleted"
    return provisioned
