"""RESTCONF routes of the IETF L2VPN service model (RFC 8466 subset) for OSM's
``ietfl2vpn`` WIM connector; `netweave.nbi.L2vpnNbi` does the translation. Errors come
as ``{"ietf-restconf:errors": {"error": [...]}}``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from netweave.api.deps import InventoryDep
from netweave.nbi import MEDIA_TYPE, L2vpnNbi, RestconfError

ROOT = "/restconf/data/ietf-l2vpn-svc:l2vpn-svc"
VPN = ROOT + "/vpn-services/vpn-service={vpn_id}"
SITE_ACCESSES = ROOT + "/sites/site={site_id}/site-network-accesses"
ACCESS = SITE_ACCESSES + "/site-network-access={access_id}"
CREATED = status.HTTP_201_CREATED
DONE = status.HTTP_204_NO_CONTENT


class YangJson(JSONResponse):
    media_type = MEDIA_TYPE


class _RestconfRoute(APIRoute):
    """Answers `RestconfError`s, and bodies that are not JSON objects, in RESTCONF form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def restconf(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError:
                error = RestconfError.one(400, "malformed-message", "/", "not a JSON object")
            except RestconfError as exc:
                error = exc
            return YangJson(error.body(), status_code=error.status)

        return restconf


def _nbi(inventory: InventoryDep) -> L2vpnNbi:
    return L2vpnNbi(inventory)


Nbi = Annotated[L2vpnNbi, Depends(_nbi)]
Payload = Annotated[dict[str, Any], Body()]

router = APIRouter(
    route_class=_RestconfRoute, default_response_class=YangJson, tags=["ietf-l2vpn-svc"]
)


@router.get(ROOT)
def get_l2vpn_svc(nbi: Nbi) -> dict[str, Any]:
    return nbi.l2vpn_svc()


@router.get(ROOT + "/vpn-services")
def list_vpn_services(nbi: Nbi) -> dict[str, Any]:
    return nbi.vpns()


@router.post(ROOT + "/vpn-services", status_code=CREATED)
def create_vpn_services(payload: Payload, nbi: Nbi) -> None:
    nbi.create_vpns(payload)


@router.get(VPN)
@router.get(VPN + "/", include_in_schema=False)
def get_vpn_service(vpn_id: str, nbi: Nbi) -> dict[str, Any]:
    return nbi.vpn(vpn_id)


@router.delete(VPN, status_code=DONE)
@router.delete(VPN + "/", status_code=DONE, include_in_schema=False)
def delete_vpn_service(vpn_id: str, nbi: Nbi) -> None:
    nbi.delete_vpn(vpn_id)


@router.post(ROOT + "/sites", status_code=DONE)
def add_sites(payload: Payload, nbi: Nbi) -> None:
    nbi.add_accesses(payload)


@router.post(SITE_ACCESSES, status_code=DONE)
def add_site_network_accesses(site_id: str, payload: Payload, nbi: Nbi) -> None:
    nbi.add_accesses(payload, site_id)


@router.delete(ACCESS, status_code=DONE)
@router.delete(ACCESS + "/", status_code=DONE, include_in_schema=False)
def delete_site_network_access(site_id: str, access_id: str, nbi: Nbi) -> None:
    nbi.delete_access(site_id, access_id)
