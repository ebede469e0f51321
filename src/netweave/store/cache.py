"""What a process keeps between transactions: the devices, ports, links, services and
connections every service transaction reads in full, and what is derived from the
topology (the path graph, link and port indexes).

Each transaction that writes an entity of one of these kinds bumps that kind's
generation, a row of its own, in the same transaction. A transaction reads the
generation (one small query) and takes the entities kept for it when they match: no
rows read, no JSON parsed; one that wrote the kind takes them with its own changes
applied. SQLite runs writers one at a time, so after a commit the cache moves to the
new generation by applying the transaction's changes to what it kept for the one
before; another process's commit moves the generation past what this one kept, which
is then read again. Whatever a transaction takes from the cache is shared: never
mutate it.

On PostgreSQL, where writers run concurrently, a generation row would serialise every
writer of its kind (the later of two fails and is re-run). There each row's version
(its `xmin` and `ctid`: they change with every write of the row) is read instead, a
small query, and only the rows whose version changed since are read and parsed again;
an entity read again unchanged (a row only touched) stays the one kept, and what is
derived is kept per content revision (counted as the kept contents change). What a
transaction that wrote the kind reads is not kept (its own rows may change again under
the same version).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from netweave.store.changes import Changes, Op

CACHED_KINDS = frozenset({"device", "endpoint", "link", "service", "connection"})
DERIVED_KEPT = 8  # derived values kept (a few per topology revision), oldest dropped first

T = TypeVar("T")
Generations = tuple[tuple[str, Hashable], ...]
RowVersions = dict[str, str]


@dataclass(frozen=True)
class KeptRows:
    """What PostgreSQL rows of one kind held when last read, and their content revision."""

    digest: str  # of every row's id and version
    versions: RowVersions
    entities: Mapping[str, BaseModel]
    revision: int


class EntityCache:
    """Entities of the cached kinds by id, each as of one generation; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, tuple[int, Mapping[str, BaseModel]]] = {}
        self._rows: dict[str, KeptRows] = {}
        self._revisions = itertools.count(1)
        self._derived: dict[tuple[str, Generations], Any] = {}

    def entities(self, kind: str, generation: int) -> Mapping[str, BaseModel] | None:
        with self._lock:
            kept = self._kinds.get(kind)
        return kept[1] if kept is not None and kept[0] == generation else None

    def keep(self, kind: str, generation: int, entities: Mapping[str, BaseModel]) -> None:
        with self._lock:
            kept = self._kinds.get(kind)
            if kept is None or kept[0] <= generation:
                self._kinds[kind] = (generation, entities)

    def rows(self, kind: str) -> KeptRows:
        """The row versions and entities last kept for `kind` (PostgreSQL)."""
        with self._lock:
            return self._rows.get(kind, KeptRows("", {}, {}, 0))

    def keep_rows(self, kind: str, rows: KeptRows) -> None:
        with self._lock:
            self._rows[kind] = rows

    def new_revision(self) -> int:
        """A content revision no other contents have (unique in this process)."""
        with self._lock:
            return next(self._revisions)

    def derived(self, name: str, generations: Generations, build: Callable[[], T]) -> T:
        """The value `build` makes from the entities at `generations` (built once)."""
        key = (name, generations)
        with self._lock:
            if key in self._derived:
                return self._derived[key]  # type: ignore[no-any-return]
        value = build()
        with self._lock:
            self._derived[key] = value
            while len(self._derived) > DERIVED_KEPT:
                del self._derived[next(iter(self._derived))]
        return value

    def advance(self, bumped: Mapping[str, int], changes: Changes) -> None:
        """After a commit that moved each kind in `bumped` to that generation: apply the
        transaction's changes to the entities kept for the generation before (if so)."""
        for kind, generation in bumped.items():
            with self._lock:
                kept = self._kinds.pop(kind, None)
            if kept is not None and kept[0] == generation - 1:
                self.keep(kind, generation, with_changes(kept[1], kind, changes))


def with_changes(
    entities: Mapping[str, BaseModel], kind: str, changes: Changes
) -> dict[str, BaseModel]:
    """A copy of `entities` (of `kind`) with `changes` applied."""
    updated = dict(entities)
    for change in changes:
        if change.kind == kind:
            entity_id = getattr(change.entity, "id", "")
            if change.op is Op.DELETED:
                updated.pop(entity_id, None)
            else:
                updated[entity_id] = change.entity
    return updated
