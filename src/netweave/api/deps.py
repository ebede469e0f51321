"""Request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from netweave.inventory import Inventory


def _inventory(request: Request) -> Inventory:
    inventory: Inventory = request.app.state.inventory
    return inventory


InventoryDep = Annotated[Inventory, Depends(_inventory)]
