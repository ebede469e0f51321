"""Inventory (and metrics-backend) errors as HTTP responses, in the shape of FastAPI's own 422 body:
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`` (plus ``line`` for
descriptor problems)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from netweave.assurance import PrometheusError, PrometheusUnavailableError
from netweave.inventory import InventoryError


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    line: int | None = None


class ErrorBody(BaseModel):
    detail: list[ErrorItem]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body could not be read (not JSON, not UTF-8)"},
    404: {"model": ErrorBody, "description": "Not found: the field names what is missing"},
    409: {"model": ErrorBody, "description": "Conflict with what is stored"},
    503: {"model": ErrorBody, "description": "Too many concurrent writes; retry"},
}


def error_body(error: InventoryError) -> ErrorBody:
    return ErrorBody(
        detail=[
            ErrorItem(loc=list(p.loc), msg=p.msg, type=error.code, line=p.line)
            for p in error.problems
        ]
    )


async def _inventory_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InventoryError)
    body = error_body(exc).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=exc.status)


async def _backend_error(_request: Request, exc: Exception) -> JSONResponse:
    """The metrics backend (a Prometheus server) unreachable (503) or refusing (502)."""
    status = 503 if isinstance(exc, PrometheusUnavailableError) else 502
    item = ErrorItem(loc=["metrics-backend"], msg=str(exc), type="backend")
    return JSONResponse(ErrorBody(detail=[item]).model_dump(mode="json", exclude_none=True), status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InventoryError, _inventory_error)
    app.add_exception_handler(PrometheusError, _backend_error)
    app.add_exception_handler(PrometheusUnavailableError, _backend_error)
