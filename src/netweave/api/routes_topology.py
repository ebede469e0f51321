"""The whole topology: snapshot, descriptor import (JSON or YAML) and export."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from netweave.api.deps import InventoryDep
from netweave.api.errors import ERROR_RESPONSES, ErrorBody
from netweave.inventory import ImportResult, dump_descriptor
from netweave.model import Topology, TopologyDescriptor

router = APIRouter(tags=["topology"], responses=ERROR_RESPONSES)
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
JSON_TYPES = frozenset({"application/json", ""})
_DESCRIPTOR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/TopologyDescriptor"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/topology")
def get_topology(inventory: InventoryDep) -> Topology:
    return inventory.topology()


@router.post(
    "/topology",
    openapi_extra=_DESCRIPTOR_BODY,
    responses={
        415: {"description": "Neither JSON nor YAML"},
        422: {"model": ErrorBody, "description": "Each problem with its path and line"},
    },
)
async def import_topology(request: Request, inventory: InventoryDep) -> ImportResult:
    """Import a descriptor (JSON, or YAML with content-type application/yaml): all of
    it, or nothing when any part is wrong."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in YAML_TYPES | JSON_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the descriptor as application/json or application/yaml, not {media_type}",
        )
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not UTF-8 text") from exc
    filename = "descriptor.yaml" if media_type in YAML_TYPES else "descriptor.json"
    return await run_in_threadpool(inventory.load_topology, text, filename)


@router.get("/topology/export", response_model=TopologyDescriptor)
def export_topology(
    inventory: InventoryDep, format: Literal["json", "yaml"] = "json"
) -> TopologyDescriptor | Response:
    """The descriptor that re-imports to the current topology."""
    descriptor = inventory.export_topology()
    if format == "yaml":
        return Response(dump_descriptor(descriptor), media_type="application/yaml")
    return descriptor
