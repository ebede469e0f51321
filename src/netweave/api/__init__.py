"""The REST API (FastAPI): a thin HTTP door onto the inventory."""

from netweave.api.app import create_app, inventory_of

__all__ = ["create_app", "inventory_of"]
