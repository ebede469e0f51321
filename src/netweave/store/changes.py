"""What a transaction wrote, reported to commit listeners after it commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel


class Op(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class Change(NamedTuple):
    """One committed write: `kind` is the collection name, `entity` the state after it
    (before it, for deletions); `before` is the replaced state, for updates. (A named
    tuple, as bulk writes make one per row.)"""

    kind: str
    op: Op
    entity: BaseModel
    before: BaseModel | None = None


class Changes(list[Change]):
    """The changes of one transaction, in write order, and two hints for reconcilers:
    the entities it `settled` (a reconciler converged them in it, so their own writes
    there need no further pass) and the rule owners whose device answers are still
    `awaited` (more answers will be committed: the owner can wait for the last one)."""

    def __init__(self) -> None:
        super().__init__()
        self.settled: set[str] = set()
        self.awaited: set[str] = set()


CommitListener = Callable[[Changes], None]


@dataclass
class Journal:
    """The changes of one transaction; read-only views refuse writes."""

    changes: Changes = field(default_factory=Changes)
    writable: bool = True
    generations: dict[str, int] = field(default_factory=dict)
    """The generation of each cached kind as this transaction read it."""
    bumped: dict[str, int] = field(default_factory=dict)
    """The generation each cached kind this transaction wrote moves to."""
    rows: dict[str, tuple[int, Any]] = field(default_factory=dict)
    """Per cached kind, what its rows held when last read (PostgreSQL), and how many
    changes this transaction had made by then."""

    def check_writable(self) -> None:
        if not self.writable:
            raise RuntimeError("read-only snapshot: use store.transaction() to write")
