"""How a transaction reads one cached kind through the process cache
(`netweave.store.cache`): by generation on SQLite, by row versions on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)

from netweave.store.cache import EntityCache, KeptRows, with_changes
from netweave.store.changes import Journal
from netweave.store.schema import entities, generations

Entities = Mapping[str, BaseModel]

_c, _g = entities.c, generations.c
_GENERATION = select(_g.value).where(_g.kind == bindparam("gen_kind"))
_BUMP = (
    update(generations)
    .where(_g.kind == bindparam("gen_kind"))
    .values(value=_g.value + 1)
    .returning(_g.value)
)
# PostgreSQL: a row's version, which every write of it changes.
_ROW_VERSION: ColumnElement[str] = literal_column("xmin::text || ctid::text")
_ROW_VERSIONS = select(_c.id, _ROW_VERSION).where(_c.kind == bindparam("row_kind"))
_ROWS_DIGEST = select(
    func.md5(func.string_agg(_c.id + _ROW_VERSION, literal_column("',' ORDER BY id")))
).where(_c.kind == bindparam("row_kind"))


class KeptKind:
    """The cached reads of one kind in one transaction. `read_all` reads every entity of
    the kind from the database, `read_some` those with the given ids."""

    def __init__(
        self,
        conn: Connection,
        journal: Journal,
        kind: str,
        cache: EntityCache,
        read_all: Callable[[], Iterable[BaseModel]],
        read_some: Callable[[list[str]], Entities],
    ) -> None:
        self._conn = conn
        self._journal = journal
        self._kind = kind
        self._cache = cache
        self._read_all = read_all
        self._read_some = read_some
        self._by_row_versions = conn.dialect.name == "postgresql"

    def by_id(self) -> Entities:
        """Every entity of the kind as this transaction sees it (shared: never mutate)."""
        if self._by_row_versions:
            return self._rows().entities
        bumped = self._journal.bumped.get(self._kind)
        if bumped is not None:  # what was kept, with this transaction's writes
            before = self._cache.entities(self._kind, bumped - 1)
            if before is None:
                return self._everything()
            return with_changes(before, self._kind, self._journal.changes)
        generation = self.generation()
        kept = self._cache.entities(self._kind, generation)
        if kept is None:
            kept = self._everything()
            self._cache.keep(self._kind, generation, kept)
        return kept

    def fingerprint(self) -> Hashable:
        """What identifies the kind's entities as this transaction sees them: the
        generation (SQLite) or the content revision (PostgreSQL)."""
        return self._rows().revision if self._by_row_versions else self.generation()

    def generation(self) -> int:
        """The kind's generation (SQLite), as this transaction sees it."""
        journal = self._journal
        known = journal.bumped.get(self._kind, journal.generations.get(self._kind))
        if known is None:
            found = self._conn.execute(_GENERATION, {"gen_kind": self._kind}).scalar()
            known = found or 0  # no row yet: never written since generations exist
            journal.generations[self._kind] = known
        return known

    def before_write(self) -> None:
        """SQLite, once per transaction: move the kind to its next generation, keeping
        what was there before (unless it already is), so that the commit moves the
        cache forward."""
        if self._by_row_versions or self._kind in self._journal.bumped:
            return
        bumped = self._conn.execute(_BUMP, {"gen_kind": self._kind}).scalar()
        if bumped is None:  # the kind's first generation
            self._conn.execute(insert(generations).values(kind=self._kind, value=1))
            bumped = 1
        if self._cache.entities(self._kind, bumped - 1) is None:
            self._cache.keep(self._kind, bumped - 1, self._everything())
        self._journal.bumped[self._kind] = bumped

    def _everything(self) -> dict[str, BaseModel]:
        return {getattr(entity, "id", ""): entity for entity in self._read_all()}

    def _rows(self) -> KeptRows:
        """PostgreSQL: the rows whose version changed since the cache kept them are read
        again (all of them, those this transaction wrote); once per transaction until
        it writes again."""
        changes = self._journal.changes
        memo = self._journal.rows.get(self._kind)
        if memo is not None and memo[0] == len(changes):
            return memo[1]  # type: ignore[no-any-return]
        rows = self._read_rows()
        self._journal.rows[self._kind] = (len(changes), rows)
        return rows

    def _read_rows(self) -> KeptRows:
        """A digest of every row's version first (one small row back): most of the
        time nothing changed and nothing else is read."""
        params = {"row_kind": self._kind}
        digest = self._conn.execute(_ROWS_DIGEST, params).scalar_one() or ""
        changes = self._journal.changes
        written = {getattr(c.entity, "id", "") for c in changes if c.kind == self._kind}
        kept = self._cache.rows(self._kind)
        if not written and kept.digest == digest:
            return kept
        rows = self._conn.execute(_ROW_VERSIONS, params)
        versions: dict[str, str] = {row[0]: row[1] for row in rows}
        stale = [i for i, v in versions.items() if i in written or kept.versions.get(i) != v]
        fresh = self._read_some(stale)
        entities = {i: kept.entities[i] for i in versions if i not in fresh}
        for entity_id, entity in fresh.items():
            same = kept.entities.get(entity_id)
            entities[entity_id] = same if same == entity else entity
        unchanged = entities.keys() == kept.entities.keys() and all(
            entities[i] is kept.entities[i] for i in fresh
        )
        revision = kept.revision if unchanged else self._cache.new_revision()
        found = KeptRows(digest, versions, entities, revision)
        if not written:
            self._cache.keep_rows(self._kind, found)
        return found
