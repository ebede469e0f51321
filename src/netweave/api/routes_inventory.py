"""CRUD routes for devices, endpoints, links and services. Names or ids address things;
PUT replaces the changeable fields (omitted ones get their defaults), PATCH changes the
given ones."""

from __future__ import annotations

from fastapi import APIRouter, status

from netweave.api.deps import InventoryDep
from netweave.api.errors import ERROR_RESPONSES
from netweave.inventory import (
    DeviceCreate,
    DeviceUpdate,
    EndpointCreate,
    EndpointUpdate,
    LinkCreate,
    LinkUpdate,
    ServiceCreate,
    ServiceUpdate,
)
from netweave.model import Device, Endpoint, Link, Service

router = APIRouter(responses=ERROR_RESPONSES)
CREATED = status.HTTP_201_CREATED
DELETED = status.HTTP_204_NO_CONTENT

# -- devices --------------------------------------------------------------------------


@router.get("/devices", tags=["devices"])
def list_devices(inventory: InventoryDep) -> list[Device]:
    return inventory.list_devices()


@router.post("/devices", tags=["devices"], status_code=CREATED)
def create_device(body: DeviceCreate, inventory: InventoryDep) -> Device:
    return inventory.create_device(body)


@router.get("/devices/{id_or_name}", tags=["devices"])
def get_device(id_or_name: str, inventory: InventoryDep) -> Device:
    return inventory.get_device(id_or_name)


@router.put("/devices/{id_or_name}", tags=["devices"])
def replace_device(id_or_name: str, body: DeviceUpdate, inventory: InventoryDep) -> Device:
    return inventory.update_device(id_or_name, body, replace=True)


@router.patch("/devices/{id_or_name}", tags=["devices"])
def update_device(id_or_name: str, body: DeviceUpdate, inventory: InventoryDep) -> Device:
    return inventory.update_device(id_or_name, body)


@router.delete("/devices/{id_or_name}", tags=["devices"], status_code=DELETED)
def delete_device(id_or_name: str, inventory: InventoryDep) -> None:
    inventory.delete_device(id_or_name)


# -- endpoints ------------------------------------------------------------------------


@router.get("/devices/{id_or_name}/endpoints", tags=["endpoints"])
def list_device_endpoints(id_or_name: str, inventory: InventoryDep) -> list[Endpoint]:
    return inventory.list_endpoints(id_or_name)


@router.post("/devices/{id_or_name}/endpoints", tags=["endpoints"], status_code=CREATED)
def create_endpoint(id_or_name: str, body: EndpointCreate, inventory: InventoryDep) -> Endpoint:
    return inventory.create_endpoint(id_or_name, body)


@router.get("/endpoints", tags=["endpoints"])
def list_endpoints(inventory: InventoryDep) -> list[Endpoint]:
    return inventory.list_endpoints()


@router.get("/endpoints/{endpoint_id}", tags=["endpoints"])
def get_endpoint(endpoint_id: str, inventory: InventoryDep) -> Endpoint:
    return inventory.get_endpoint(endpoint_id)


@router.put("/endpoints/{endpoint_id}", tags=["endpoints"])
def replace_endpoint(endpoint_id: str, body: EndpointUpdate, inventory: InventoryDep) -> Endpoint:
    return inventory.update_endpoint(endpoint_id, body, replace=True)


@router.patch("/endpoints/{endpoint_id}", tags=["endpoints"])
def update_endpoint(endpoint_id: str, body: EndpointUpdate, inventory: InventoryDep) -> Endpoint:
    return inventory.update_endpoint(endpoint_id, body)


@router.delete("/endpoints/{endpoint_id}", tags=["endpoints"], status_code=DELETED)
def delete_endpoint(endpoint_id: str, inventory: InventoryDep) -> None:
    inventory.delete_endpoint(endpoint_id)


# -- links ----------------------------------------------------------------------------


@router.get("/links", tags=["links"])
def list_links(inventory: InventoryDep) -> list[Link]:
    return inventory.list_links()


@router.post("/links", tags=["links"], status_code=CREATED)
def create_link(body: LinkCreate, inventory: InventoryDep) -> Link:
    return inventory.create_link(body)


@router.get("/links/{id_or_name}", tags=["links"])
def get_link(id_or_name: str, inventory: InventoryDep) -> Link:
    return inventory.get_link(id_or_name)


@router.put("/links/{id_or_name}", tags=["links"])
def replace_link(id_or_name: str, body: LinkUpdate, inventory: InventoryDep) -> Link:
    return inventory.update_link(id_or_name, body, replace=True)


@router.patch("/links/{id_or_name}", tags=["links"])
def update_link(id_or_name: str, body: LinkUpdate, inventory: InventoryDep) -> Link:
    return inventory.update_link(id_or_name, body)


@router.delete("/links/{id_or_name}", tags=["links"], status_code=DELETED)
def delete_link(id_or_name: str, inventory: InventoryDep) -> None:
    inventory.delete_link(id_or_name)


# -- services -------------------------------------------------------------------------


@router.get("/services", tags=["services"])
def list_services(inventory: InventoryDep) -> list[Service]:
    return inventory.list_services()


@router.post("/services", tags=["services"], status_code=CREATED)
def create_service(body: ServiceCreate, inventory: InventoryDep) -> Service:
    return inventory.create_service(body)


@router.get("/services/{id_or_name}", tags=["services"])
def get_service(id_or_name: str, inventory: InventoryDep) -> Service:
    return inventory.get_service(id_or_name)


@router.put("/services/{id_or_name}", tags=["services"])
def replace_service(id_or_name: str, body: ServiceUpdate, inventory: InventoryDep) -> Service:
    return inventory.update_service(id_or_name, body, replace=True)


@router.patch("/services/{id_or_name}", tags=["services"])
def update_service(id_or_name: str, body: ServiceUpdate, inventory: InventoryDep) -> Service:
    return inventory.update_service(id_or_name, body)


@router.delete("/services/{id_or_name}", tags=["services"], status_code=DELETED)
def delete_service(id_or_name: str, inventory: InventoryDep) -> None:
    inventory.delete_service(id_or_name)
