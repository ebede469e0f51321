"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from netweave import __version__
from netweave.api.errors import install_error_handlers
from netweave.api.routes_assurance import install_assurance
from netweave.api.routes_inventory import router as inventory_routes
from netweave.api.routes_l2vpn import router as l2vpn_routes
from netweave.api.routes_metrics import root_router as metrics_root_routes
from netweave.api.routes_metrics import router as metrics_routes
from netweave.api.routes_topology import router as topology_routes
from netweave.assurance import EmbeddedTSDB, TimeSeriesStore
from netweave.bus import EventBus
from netweave.controller.runtime import Controller
from netweave.inventory import Inventory
from netweave.store import Store
from netweave.web import install_web

API_PREFIX = "/api/v1"


def create_app(
    store: Store,
    bus: EventBus,
    controller: Controller | None = None,
    tsdb: TimeSeriesStore | None = None,
) -> FastAPI:
    """The netweave REST API over `store`, publishing events on `bus`; the `controller`,
    when given, runs as long as the app does. Metrics go to `tsdb` (default: an
    in-memory `EmbeddedTSDB`), which the app closes when it stops."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if controller is not None:
            await controller.start()
        try:
            yield
        finally:
            if controller is not None:
                await controller.stop()

    app = FastAPI(
        title="netweave", version=__version__, summary="Open SDN controller API", lifespan=lifespan
    )
    app.state.inventory = Inventory(store, bus)
    app.state.tsdb = tsdb if tsdb is not None else EmbeddedTSDB()
    install_error_handlers(app)
    app.include_router(inventory_routes, prefix=API_PREFIX)
    app.include_router(topology_routes, prefix=API_PREFIX)
    app.include_router(metrics_routes, prefix=API_PREFIX)
    app.include_router(metrics_root_routes)
    app.include_router(l2vpn_routes)
    install_assurance(app, API_PREFIX, store)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        inventory_of(app).health()
        return {"status": "ok"}

    install_web(app, API_PREFIX, store, bus, app.state.inventory)
    return app


def inventory_of(app: FastAPI) -> Inventory:
    """The inventory an app built by `create_app` serves."""
    inventory = getattr(app.state, "inventory", None)
    if not isinstance(inventory, Inventory):
        raise TypeError("not an app made by netweave.api.create_app")
    return inventory
