"""Inventory errors as HTTP responses, in the shape of FastAPI's own 422 body:
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`` (plus ``line`` for
descriptor problems)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from netweave.inventory import InventoryError


def error_body(error: InventoryError) -> dict[str, Any]:
    detail = []
    for problem in error.problems:
        item: dict[str, Any] = {"loc": list(problem.loc), "msg": problem.msg, "type": error.code}
        if problem.line is not None:
            item["line"] = problem.line
        detail.append(item)
    return {"detail": detail}


async def _inventory_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InventoryError)
    return JSONResponse(error_body(exc), status_code=exc.status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InventoryError, _inventory_error)
