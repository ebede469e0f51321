"""Errors of the inventory: each names the offending input field and the reason.

    InventoryError            (422 unless a subclass says otherwise)
    ├── NotFound              404: the thing addressed does not exist
    ├── Conflict              409: the write clashes with what is stored
    ├── Invalid               422: the input itself is wrong (bad value, unknown reference)
    └── Busy                  503: concurrent writes kept winning; nothing was written

An error carries one or more `Problem`s: a location (a path of field names and list
indexes, as in pydantic and FastAPI) and a message; descriptor problems add a line number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Self

from pydantic import ValidationError

Loc = tuple[str | int, ...]


def format_loc(loc: Sequence[str | int]) -> str:
    """`("devices", 2, "ports", 0, "mac")` -> ``devices[2].ports[0].mac``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def parse_loc(field: str | Loc) -> Loc:
    """A dotted field name (``a.device``) or a ready location, as a location."""
    if isinstance(field, tuple):
        return field
    return tuple(field.split(".")) if field else ()


@dataclass(frozen=True)
class Problem:
    loc: Loc
    msg: str
    line: int | None = None

    def __str__(self) -> str:
        where = format_loc(self.loc)
        if self.line is not None:
            where = f"{where} (line {self.line})" if where else f"line {self.line}"
        return f"{where}: {self.msg}" if where else self.msg


class InventoryError(Exception):
    status: ClassVar[int] = 422
    code: ClassVar[str] = "invalid"

    def __init__(self, field: str | Loc, reason: str) -> None:
        self.problems = [Problem(parse_loc(field), reason)]
        super().__init__(str(self.problems[0]))

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> Self:
        """An error made of several problems (at least one)."""
        error = cls(problems[0].loc, problems[0].msg)
        error.problems = list(problems)
        error.args = ("; ".join(map(str, problems)),)
        return error

    def within(self, *prefix: str | int) -> Self:
        """The same error, located inside `prefix` (e.g. inside ``links[3]``)."""
        return self.of([replace(p, loc=(*prefix, *p.loc)) for p in self.problems])


class NotFound(InventoryError):
    status = 404
    code = "not_found"


class Conflict(InventoryError):
    status = 409
    code = "conflict"


class Invalid(InventoryError):
    status = 422
    code = "invalid"

    @classmethod
    def from_validation(cls, error: ValidationError, *prefix: str | int) -> Invalid:
        return cls.of([Problem((*prefix, *item["loc"]), item["msg"]) for item in error.errors()])


class Busy(InventoryError):
    status = 503
    code = "busy"
