"""Read-only views the web UI needs beyond the inventory routes: a device's config rules
and a service's connections (its computed paths)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from netweave.inventory import Inventory
from netweave.model import ConfigRule, Connection
from netweave.store import Store

MAX_RULES = 10_000


def views_router(store: Store, inventory: Inventory) -> APIRouter:
    """Routes reading `store`; names are resolved by `inventory` (unknown: 404)."""
    router = APIRouter()

    @router.get("/devices/{id_or_name}/rules", tags=["devices"])
    def list_device_rules(
        id_or_name: str,
        limit: Annotated[int, Query(ge=1, le=MAX_RULES)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[ConfigRule]:
        """The configuration rules stored for a device (desired action and observed
        status), ordered by id; `limit`/`offset` page."""
        device = inventory.get_device(id_or_name)
        with store.read() as repo:
            return repo.rules.list(device.id, limit=limit, offset=offset)

    @router.get("/services/{id_or_name}/connections", tags=["services"])
    def list_service_connections(id_or_name: str) -> list[Connection]:
        """The paths computed for a service (primary, and backup when protected)."""
        service = inventory.get_service(id_or_name)
        with store.read() as repo:
            return repo.connections.list(service.id)

    return router
