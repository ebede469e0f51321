"""The web UI's server side: the built front-end at ``/``, a server-sent event stream
of bus events, and the read-only views the UI needs that the inventory API lacks."""

from __future__ import annotations

from fastapi import FastAPI

from netweave.bus import EventBus
from netweave.inventory import Inventory
from netweave.store import Store
from netweave.web.routes import views_router
from netweave.web.stream import events_router
from netweave.web.ui import BUILD_HINT, STATIC_DIR, mount_ui, ui_built

__all__ = ["BUILD_HINT", "STATIC_DIR", "install_web", "ui_built"]


def install_web(
    app: FastAPI, prefix: str, store: Store, bus: EventBus, inventory: Inventory
) -> None:
    """Add the UI's routes under `prefix` and the UI itself at ``/``; call it last."""
    app.include_router(events_router(bus), prefix=prefix)
    app.include_router(views_router(store, inventory), prefix=prefix)
    mount_ui(app)
