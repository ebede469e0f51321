"""The IETF L2VPN service model (RFC 8466 subset) over netweave services, as OSM's
``ietfl2vpn`` WIM connector drives it.

A vpn-service is a netweave service named by its vpn-id (``vpws``: p2p, ``vpls``:
l2vpn); each site-network-access adds one endpoint, the port its ``bearer-reference``
names (``DEVICE:PORT`` or a port id), and its largest svc-input/output-bandwidth is the
service's ``constraints.bandwidth_bps``. A VPN is created before its accesses: it stays
planned until it has two, then is routed at once (refused, and nothing stored, when it
cannot be). The accesses themselves are kept in the service's attributes, keyed by site
and access id. Frames are carried port-based: a ``dot1q-vlan-tagged`` access keeps its
cvlan tag end to end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from netweave.inventory import (
    Conflict,
    Inventory,
    InventoryError,
    NotFound,
    PortRef,
    ServiceDraft,
    ServiceUpdate,
)
from netweave.inventory.errors import Loc, format_loc
from netweave.model import Endpoint, Service, ServiceType
from netweave.model.ids import endpoint_id, is_id
from netweave.nbi.l2vpn_schema import (
    MODULE,
    L2vpnSites,
    SiteNetworkAccess,
    SiteNetworkAccesses,
    VpnServices,
)
from netweave.nbi.restconf import RestconfError, invalid_payload, path_of, refused

ROOT = f"/{MODULE}:l2vpn-svc"
ACCESS_KEY = f"{MODULE}:site-network-access/"
CUSTOMER_KEY = f"{MODULE}:customer-name"
SERVICE_TYPES = {"vpws": ServiceType.P2P, "vpls": ServiceType.L2VPN}
VPN_TYPES = {service_type: vpn_type for vpn_type, service_type in SERVICE_TYPES.items()}


class StoredAccess(BaseModel):
    """One site network access as a service attribute holds it."""

    model_config = ConfigDict(extra="forbid")

    site_id: str
    endpoint_id: str
    access: SiteNetworkAccess


@dataclass(frozen=True)
class _Request:
    """One access of a request, located in its payload (`path`)."""

    site_id: str
    access: SiteNetworkAccess
    path: str


class L2vpnNbi:
    """RFC 8466 requests (payloads as parsed JSON) translated onto the inventory; every
    refusal is a `RestconfError`."""

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    # -- vpn services -------------------------------------------------------------------

    def create_vpns(self, payload: Any) -> None:
        vpns = _parse(VpnServices, payload)
        for index, vpn in enumerate(vpns.vpn_service):
            draft = ServiceDraft(
                name=vpn.vpn_id,
                type=SERVICE_TYPES[vpn.vpn_svc_type],
                attributes={CUSTOMER_KEY: vpn.customer_name} if vpn.customer_name else {},
            )
            at = path_of(f"{MODULE}:vpn-service", index)
            try:
                self._inventory.create_service(draft)
            except Conflict as exc:
                raise RestconfError.one(409, "data-exists", f"{at}/vpn-id", str(exc)) from None
            except InventoryError as exc:
                raise refused(exc, functools.partial(_under, at)) from None

    def vpn(self, vpn_id: str) -> dict[str, Any]:
        """``{"ietf-l2vpn-svc:vpn-service": [...]}`` with the one VPN, status included."""
        return {f"{MODULE}:vpn-service": [_vpn_json(self._vpn(vpn_id))]}

    def vpns(self) -> dict[str, Any]:
        return {f"{MODULE}:vpn-services": {"vpn-service": list(map(_vpn_json, self._all()))}}

    def l2vpn_svc(self) -> dict[str, Any]:
        """The whole tree: VPN services and the sites with their accesses."""
        services = self._all()
        sites: dict[str, list[dict[str, Any]]] = {}
        for service in services:
            for stored in _accesses(service).values():
                sites.setdefault(stored.site_id, []).append(_access_json(stored.access))
        site_list = [
            {"site-id": site_id, "site-network-accesses": {"site-network-access": accesses}}
            for site_id, accesses in sorted(sites.items())
        ]
        return {
            f"{MODULE}:l2vpn-svc": {
                "vpn-services": {"vpn-service": list(map(_vpn_json, services))},
                "sites": {"site": site_list},
            }
        }

    def delete_vpn(self, vpn_id: str) -> None:
        """Remove the VPN's service (its rules withdrawn first when it has any)."""
        service = self._vpn(vpn_id)
        try:
            self._inventory.delete_service(service.id)
        except InventoryError as exc:
            vpn = f"{ROOT}/vpn-services/vpn-service={vpn_id}"
            raise refused(exc, functools.partial(_under, vpn)) from None

    # -- site network accesses ----------------------------------------------------------

    def add_accesses(self, payload: Any, site_id: str | None = None) -> None:
        """Attach the accesses of `payload` (posted to the site `site_id`, or in the
        standard ``l2vpn-svc/sites`` form), each VPN routed as soon as it has two."""
        requests = _requests(payload, site_id)
        taken = {key for service in self._all() for key in _accesses(service)}
        by_vpn: dict[str, list[tuple[_Request, Endpoint]]] = {}
        for request in requests:
            key = _key(request.site_id, request.access.network_access_id)
            if key in taken:
                raise RestconfError.one(
                    409,
                    "data-exists",
                    f"{request.path}/network-access-id",
                    f"site {request.site_id!r} already has the access"
                    f" {request.access.network_access_id!r}",
                )
            taken.add(key)
            port = self._bearer(request)
            by_vpn.setdefault(request.access.vpn_attachment.vpn_id, []).append((request, port))
        for vpn_id, added in by_vpn.items():
            self._attach(vpn_id, added)

    def delete_access(self, site_id: str, access_id: str) -> None:
        key = _key(site_id, access_id)
        service = next((s for s in self._all() if key in _accesses(s)), None)
        if service is None:
            raise RestconfError.one(
                404,
                "invalid-value",
                f"{ROOT}/sites/site={site_id}/site-network-accesses/site-network-access={access_id}",
                f"site {site_id!r} has no access {access_id!r}",
            )

        def edit(current: Service) -> ServiceUpdate:
            accesses = _accesses(current)
            gone = accesses.pop(key, None)
            endpoints = [
                _port(e.device_id, e.endpoint_id)
                for e in current.endpoints
                if gone is None or e.endpoint_id != gone.endpoint_id
            ]
            return _changes(current, accesses, endpoints)

        self._edit(service.name, edit, functools.partial(_under, ROOT))

    # -- helpers ------------------------------------------------------------------------

    def _all(self) -> list[Service]:
        return [s for s in self._inventory.list_services() if s.type in VPN_TYPES]

    def _vpn(self, vpn_id: str) -> Service:
        try:
            service = self._inventory.get_service(vpn_id)
        except NotFound:
            service = None
        if service is None or service.type not in VPN_TYPES:
            raise RestconfError.one(
                404,
                "invalid-value",
                f"{ROOT}/vpn-services/vpn-service={vpn_id}",
                f"no vpn-service {vpn_id!r}",
            )
        return service

    def _bearer(self, request: _Request) -> Endpoint:
        """The port an access's bearer-reference names."""
        ref = request.access.bearer.bearer_reference
        device, _, port = ref.rpartition(":")
        try:
            if is_id(ref):
                return self._inventory.get_endpoint(ref)
            if device and port:
                return self._inventory.get_endpoint(endpoint_id(device, port))
        except NotFound:
            pass
        raise RestconfError.one(
            400,
            "invalid-value",
            f"{request.path}/bearer/bearer-reference",
            f"no port {ref!r} (give DEVICE:PORT by names, or a port id)",
        )

    def _attach(self, vpn_id: str, added: list[tuple[_Request, Endpoint]]) -> None:
        first = added[0][0].path
        try:
            known = len(self._inventory.get_service(vpn_id).endpoints)
        except NotFound:
            raise RestconfError.one(
                400,
                "invalid-value",
                f"{first}/vpn-attachment/vpn-id",
                f"no vpn-service {vpn_id!r}; create it first",
            ) from None

        def edit(current: Service) -> ServiceUpdate:
            accesses = _accesses(current)
            endpoints = [_port(e.device_id, e.endpoint_id) for e in current.endpoints]
            for request, port in added:
                key = _key(request.site_id, request.access.network_access_id)
                accesses[key] = StoredAccess(
                    site_id=request.site_id, endpoint_id=port.id, access=request.access
                )
                endpoints.append(_port(port.device_id, port.id))
            return _changes(current, accesses, endpoints)

        def where(loc: Loc) -> str:
            """Endpoint n (past those known) is the n-th access added; bandwidth theirs."""
            if len(loc) == 2 and loc[0] == "endpoints" and isinstance(loc[1], int):
                index = loc[1] - known
                if 0 <= index < len(added):
                    return f"{added[index][0].path}/bearer/bearer-reference"
            if loc == ("constraints", "bandwidth_bps"):
                return f"{first}/service/svc-input-bandwidth"
            return _under(f"{ROOT}/vpn-services/vpn-service={vpn_id}", loc)

        self._edit(vpn_id, edit, where)

    def _edit(
        self, vpn_id: str, edit: Callable[[Service], ServiceUpdate], where: Callable[[Loc], str]
    ) -> None:
        try:
            self._inventory.edit_service(vpn_id, edit)
        except InventoryError as exc:
            raise refused(exc, where) from None


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], payload: Any, prefix: str = "") -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise invalid_payload(exc, prefix) from None


def _requests(payload: Any, site_id: str | None) -> list[_Request]:
    """The accesses of a payload in either form, each with its site and location."""
    standard = isinstance(payload, dict) and any(
        key in payload for key in (f"{MODULE}:l2vpn-svc", "l2vpn-svc")
    )
    if standard:
        sites = _parse(L2vpnSites, payload).l2vpn_svc.sites.site
        if site_id is not None and any(site.site_id != site_id for site in sites):
            raise RestconfError.one(
                400,
                "invalid-value",
                path_of(f"{MODULE}:l2vpn-svc", "sites", "site", "site-id"),
                f"the request is for site {site_id!r} only",
            )
        return [
            _Request(
                site.site_id,
                access,
                path_of(
                    f"{MODULE}:l2vpn-svc",
                    "sites",
                    "site",
                    s,
                    "site-network-accesses",
                    "site-network-access",
                    a,
                ),
            )
            for s, site in enumerate(sites)
            for a, access in enumerate(site.site_network_accesses.site_network_access)
        ]
    if site_id is None:
        raise RestconfError.one(
            400,
            "missing-element",
            path_of(f"{MODULE}:l2vpn-svc"),
            "post accesses to sites/site=<site-id>/site-network-accesses, or in the"
            " l2vpn-svc/sites/site form",
        )
    accesses = _parse(SiteNetworkAccesses, payload).site_network_access
    return [
        _Request(site_id, access, path_of(f"{MODULE}:site-network-access", index))
        for index, access in enumerate(accesses)
    ]


def _under(path: str, loc: Loc) -> str:
    """A netweave field location, as a node below `path`."""
    return f"{path}/{format_loc(loc)}"


def _key(site_id: str, access_id: str) -> str:
    return f"{ACCESS_KEY}{site_id}/{access_id}"


def _accesses(service: Service) -> dict[str, StoredAccess]:
    """The service's accesses by key."""
    return {
        key: StoredAccess.model_validate_json(value)
        for key, value in service.attributes.items()
        if key.startswith(ACCESS_KEY)
    }


def _port(device: str, endpoint: str) -> PortRef:
    return PortRef(device=device, endpoint=endpoint)


def _changes(
    service: Service, accesses: dict[str, StoredAccess], endpoints: list[PortRef]
) -> ServiceUpdate:
    """The service with these accesses: its endpoints, attributes and bandwidth."""
    attributes = {k: v for k, v in service.attributes.items() if not k.startswith(ACCESS_KEY)}
    attributes |= {key: stored.model_dump_json() for key, stored in accesses.items()}
    wanted = [s.access.bandwidth_bps for s in accesses.values()]
    bandwidth = max((b for b in wanted if b is not None), default=None)
    constraints = service.constraints.model_copy(update={"bandwidth_bps": bandwidth})
    return ServiceUpdate(constraints=constraints, attributes=attributes, endpoints=endpoints)


def _vpn_json(service: Service) -> dict[str, Any]:
    vpn: dict[str, Any] = {
        "vpn-id": service.name,
        "vpn-svc-type": VPN_TYPES[service.type],
        "svc-topo": "any-to-any",
    }
    if CUSTOMER_KEY in service.attributes:
        vpn["customer-name"] = service.attributes[CUSTOMER_KEY]
    vpn["netweave:status"] = service.status.value
    if service.status_reason:
        vpn["netweave:status-reason"] = service.status_reason
    return vpn


def _access_json(access: SiteNetworkAccess) -> dict[str, Any]:
    return access.model_dump(mode="json", by_alias=True, exclude_none=True)
