"""The inventory: devices, endpoints, links and services, validated and evented.

`Inventory` is the one business layer between the API/CLI and the store and bus.
"""

from netweave.inventory.descriptor import LineMap, dump_descriptor, load_descriptor
from netweave.inventory.errors import (
    Busy,
    Conflict,
    Invalid,
    InventoryError,
    NotFound,
    Problem,
    format_loc,
)
from netweave.inventory.events import events_for, publish_changes
from netweave.inventory.inputs import (
    DeviceCreate,
    DeviceUpdate,
    EndpointCreate,
    EndpointUpdate,
    LinkCreate,
    LinkUpdate,
    PortRef,
    ServiceCreate,
    ServiceDraft,
    ServiceUpdate,
)
from netweave.inventory.service import Inventory
from netweave.inventory.topology import ImportCounts, ImportResult

__all__ = [
    "Busy",
    "Conflict",
    "DeviceCreate",
    "DeviceUpdate",
    "EndpointCreate",
    "EndpointUpdate",
    "ImportCounts",
    "ImportResult",
    "Invalid",
    "Inventory",
    "InventoryError",
    "LineMap",
    "LinkCreate",
    "LinkUpdate",
    "NotFound",
    "PortRef",
    "Problem",
    "ServiceCreate",
    "ServiceDraft",
    "ServiceUpdate",
    "dump_descriptor",
    "events_for",
    "format_loc",
    "load_descriptor",
    "publish_changes",
]
