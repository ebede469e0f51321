"""RESTCONF errors (RFC 8040 §7): each names the data node at fault (``error-path``)
and the reason, with the HTTP status its ``error-tag`` calls for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from netweave.inventory import Busy, Conflict, InventoryError, NotFound
from netweave.inventory.errors import Loc

MEDIA_TYPE = "application/yang-data+json"


@dataclass(frozen=True)
class ErrorItem:
    tag: str
    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {
            "error-type": "application",
            "error-tag": self.tag,
            "error-path": self.path,
            "error-message": self.message,
        }


class RestconfError(Exception):
    """A request refused with `status`; `items` say where and why."""

    def __init__(self, status: int, items: list[ErrorItem]) -> None:
        super().__init__("; ".join(f"{item.path}: {item.message}" for item in items))
        self.status = status
        self.items = items

    @classmethod
    def one(cls, status: int, tag: str, path: str, message: str) -> RestconfError:
        return cls(status, [ErrorItem(tag, path, message)])

    def body(self) -> dict[str, Any]:
        return {"ietf-restconf:errors": {"error": [item.as_json() for item in self.items]}}


def path_of(*parts: str | int) -> str:
    """A data node path: ``/part/part/...``."""
    return "".join(f"/{part}" for part in parts)


def invalid_payload(error: ValidationError, prefix: str = "") -> RestconfError:
    """A payload that does not fit the model: 400, each problem at its node."""
    items = [
        ErrorItem(
            "missing-element" if item["type"] == "missing" else "invalid-value",
            prefix + path_of(*item["loc"]),
            item["msg"],
        )
        for item in error.errors()
    ]
    return RestconfError(400, items)


def refused(error: InventoryError, where: Callable[[Loc], str]) -> RestconfError:
    """An inventory refusal, located by `where` (a netweave field location to a node)."""
    if isinstance(error, NotFound):
        status, tag = 404, "invalid-value"
    elif isinstance(error, Conflict):
        status, tag = 409, "in-use"
    elif isinstance(error, Busy):
        status, tag = 503, "resource-denied"
    else:
        status, tag = 400, "invalid-value"
    return RestconfError(status, [ErrorItem(tag, where(p.loc), p.msg) for p in error.problems])
