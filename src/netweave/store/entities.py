"""Entities of one kind (devices, endpoints, ...) stored as JSON documents."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)

from netweave.gcpause import gc_paused
from netweave.model.common import Entity
from netweave.store.cache import CACHED_KINDS, EntityCache, KeptRows, with_changes
from netweave.store.changes import Change, Journal, Op
from netweave.store.db_errors import conflicts_as
from netweave.store.errors import ConflictError, NotFoundError
from netweave.store.schema import entities, generations

E = TypeVar("E", bound=Entity)
IDS_PER_QUERY = 2000  # well under every backend's limit on bound parameters

# Built once: building a statement costs more than running it on a primary key.
_c = entities.c
# (Key parameters are not named like columns: insert/update reserve those names.)
_KEY = (_c.kind == bindparam("key_kind"), _c.id == bindparam("key_id"))
_BY_ID = select(_c.data).where(*_KEY)
_BY_IDS = select(_c.id, _c.data).where(
    _c.kind == bindparam("key_kind"), _c.id.in_(bindparam("ids", expanding=True))
)
_BY_NAME = select(_c.id, _c.data).where(
    _c.kind == bindparam("kind"), _c.scope == bindparam("scope"), _c.name == bindparam("name")
)
_INSERT = insert(entities)
_UPDATE = update(entities).where(*_KEY)
_DELETE = delete(entities).where(*_KEY)
_TOUCH = (
    update(entities)
    .where(_c.kind == bindparam("key_kind"), _c.id.in_(bindparam("ids", expanding=True)))
    .values(data=_c.data)
)
_GENERATION = select(generations.c.value).where(generations.c.kind == bindparam("gen_kind"))
_BUMP = (
    update(generations)
    .where(generations.c.kind == bindparam("gen_kind"))
    .values(value=generations.c.value + 1)
    .returning(generations.c.value)
)
# PostgreSQL: a row's version, which every write of it changes (see netweave.store.cache)
_ROW_VERSION: ColumnElement[str] = literal_column("xmin::text || ctid::text")
_ROW_VERSIONS = select(_c.id, _ROW_VERSION).where(_c.kind == bindparam("list_kind"))
_ROWS_DIGEST = select(
    func.md5(func.string_agg(_c.id + _ROW_VERSION, literal_column("',' ORDER BY id")))
).where(_c.kind == bindparam("list_kind"))
_OF_KIND = _c.kind == bindparam("list_kind")
_IN_SCOPE = _c.scope == bindparam("list_scope")
_IN_SCOPES = (
    select(_c.scope, _c.data)
    .where(_c.kind == bindparam("list_kind"), _c.scope.in_(bindparam("scopes", expanding=True)))
    .order_by(_c.name, _c.id)
)
_LIST = {
    scoped: select(_c.data)
    .where(_OF_KIND, *([_IN_SCOPE] if scoped else []))
    .order_by(_c.name, _c.id)
    for scoped in (False, True)
}


class EntityCollection(Generic[E]):
    """The entities of one kind. `scope_of` gives the parent id that names are unique in."""

    def __init__(
        self,
        conn: Connection,
        journal: Journal,
        kind: str,
        model: type[E],
        scope_of: Callable[[E], str],
        cache: EntityCache | None = None,
    ) -> None:
        self._conn = conn
        self._journal = journal
        self.kind = kind
        self._model = model
        self._scope_of = scope_of
        self._cache = cache if kind in CACHED_KINDS else None
        self._by_row_versions = conn.dialect.name == "postgresql"

    def _key(self, entity_id: str) -> dict[str, str]:
        return {"key_kind": self.kind, "key_id": entity_id}

    def find(self, entity_id: str) -> E | None:
        row = self._conn.execute(_BY_ID, self._key(entity_id)).first()
        return None if row is None else self._model.model_validate_json(row.data)

    @gc_paused()
    def find_many(self, entity_ids: Iterable[str]) -> dict[str, E]:
        """The entities with these ids that exist, by id (one query)."""
        ids = list(dict.fromkeys(entity_ids))
        found: dict[str, E] = {}
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            for row in self._conn.execute(_BY_IDS, {"key_kind": self.kind, "ids": chunk}):
                found[row.id] = self._model.model_validate_json(row.data)
        return found

    def by_id(self) -> Mapping[str, E]:
        """Every entity of this kind, by id. For a cached kind (`netweave.store.cache`)
        the mapping may be shared with other transactions: never mutate it or them."""
        if self._cache is None:
            return {entity.id: entity for entity in self.list()}
        if self._by_row_versions:
            return cast("Mapping[str, E]", self._rows(self._cache).entities)
        if self.kind in self._journal.bumped:  # what was kept, with this transaction's writes
            before = self._cache.entities(self.kind, self._journal.bumped[self.kind] - 1)
            if before is None:
                return {entity.id: entity for entity in self.list()}
            return cast("Mapping[str, E]", with_changes(before, self.kind, self._journal.changes))
        generation = self.generation()
        kept = self._cache.entities(self.kind, generation)
        if kept is None:
            kept = {entity.id: entity for entity in self.list()}
            self._cache.keep(self.kind, generation, kept)
        return cast("Mapping[str, E]", kept)

    def _rows(self, cache: EntityCache) -> KeptRows:
        """`by_id` on PostgreSQL: the rows whose version changed since the cache kept
        them are read again (all of them, those this transaction wrote); once per
        transaction until it writes again."""
        changes = self._journal.changes
        memo = self._journal.rows.get(self.kind)
        if memo is not None and memo[0] == len(changes):
            return cast("KeptRows", memo[1])
        rows = self._read_rows(cache)
        self._journal.rows[self.kind] = (len(changes), rows)
        return rows

    def _read_rows(self, cache: EntityCache) -> KeptRows:
        """A digest of every row's version first (one small row back): most of the
        time nothing changed and nothing else is read."""
        params = {"list_kind": self.kind}
        digest = self._conn.execute(_ROWS_DIGEST, params).scalar_one() or ""
        changes = self._journal.changes
        written = {getattr(c.entity, "id", "") for c in changes if c.kind == self.kind}
        kept = cache.rows(self.kind)
        if not written and kept.digest == digest:
            return kept
        versions: dict[str, str] = {
            row[0]: row[1] for row in self._conn.execute(_ROW_VERSIONS, params)
        }
        stale = [i for i, v in versions.items() if i in written or kept.versions.get(i) != v]
        fresh: Mapping[str, BaseModel] = self.find_many(stale)
        entities = {i: kept.entities[i] for i in versions if i not in fresh}
        for entity_id, entity in fresh.items():
            same = kept.entities.get(entity_id)
            entities[entity_id] = same if same == entity else entity
        unchanged = entities.keys() == kept.entities.keys() and all(
            entities[i] is kept.entities[i] for i in fresh
        )
        revision = kept.revision if unchanged else cache.new_revision()
        rows = KeptRows(digest, versions, entities, revision)
        if not written:
            cache.keep_rows(self.kind, rows)
        return rows

    def fingerprint(self) -> Hashable:
        """What identifies the entities of this (cached) kind as this transaction sees
        them: the generation (SQLite) or the content revision (PostgreSQL)."""
        if self._by_row_versions and self._cache is not None:
            return self._rows(self._cache).revision
        return self.generation()

    def generation(self) -> int:
        """The generation of this (cached) kind, as this transaction sees it."""
        known = self._journal.bumped.get(self.kind, self._journal.generations.get(self.kind))
        if known is None:
            found = self._conn.execute(_GENERATION, {"gen_kind": self.kind}).scalar()
            known = found or 0  # no row yet: never written since generations exist
            self._journal.generations[self.kind] = known
        return known

    def _bump(self) -> None:
        """Move this (cached) kind to its next generation, once per transaction, before
        its first write: what was there before is kept too (unless it already is), so
        that the commit moves the cache forward."""
        if self._cache is None or self._by_row_versions:
            return
        if self.kind not in self._journal.bumped:
            bumped = self._conn.execute(_BUMP, {"gen_kind": self.kind}).scalar()
            if bumped is None:  # the kind's first generation
                self._conn.execute(insert(generations).values(kind=self.kind, value=1))
                bumped = 1
            if self._cache.entities(self.kind, bumped - 1) is None:
                before = {entity.id: entity for entity in self.list()}
                self._cache.keep(self.kind, bumped - 1, before)
            self._journal.bumped[self.kind] = bumped

    def get(self, entity_id: str) -> E:
        found = self.find(entity_id)
        if found is None:
            raise NotFoundError(self.kind, entity_id)
        return found

    def find_by_name(self, name: str, scope: str = "") -> E | None:
        row = self._named(name, scope)
        return None if row is None else self._model.model_validate_json(row.data)

    @gc_paused()
    def list(
        self, scope: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[E]:
        """Entities ordered by name (within a scope, if given); `limit`/`offset` page."""
        query = _LIST[scope is not None]
        if limit is not None or offset:
            query = query.limit(limit).offset(offset or None)
        rows = self._conn.execute(query, {"list_kind": self.kind, "list_scope": scope})
        return [self._model.model_validate_json(data) for (data,) in rows]

    @gc_paused()
    def list_scopes(self, scopes: Iterable[str]) -> dict[str, builtins.list[E]]:
        """The entities in each of these scopes (ordered by name), in one query per chunk."""
        found: dict[str, builtins.list[E]] = {scope: [] for scope in scopes}
        wanted = list(found)
        for start in range(0, len(wanted), IDS_PER_QUERY):
            params = {"list_kind": self.kind, "scopes": wanted[start : start + IDS_PER_QUERY]}
            for row in self._conn.execute(_IN_SCOPES, params):
                found[row.scope].append(self._model.model_validate_json(row.data))
        return found

    def count(self, scope: str | None = None) -> int:
        where = [_c.kind == self.kind] + ([] if scope is None else [_c.scope == scope])
        query = select(func.count()).select_from(entities).where(*where)
        return int(self._conn.execute(query).scalar_one())

    def add(self, entity: E) -> E:
        self._journal.check_writable()
        self._bump()
        if self._conn.execute(_BY_ID, self._key(entity.id)).first():
            raise ConflictError(self.kind, f"id {entity.id!r} already exists", field="id")
        scope = self._guard_name(entity)
        with conflicts_as(self.kind):
            self._conn.execute(
                _INSERT,
                {
                    "kind": self.kind,
                    "id": entity.id,
                    "scope": scope,
                    "name": entity.name,
                    "data": entity.model_dump_json(),
                },
            )
        self._journal.changes.append(Change(self.kind, Op.CREATED, entity))
        return entity

    def update(self, entity: E) -> E:
        self._journal.check_writable()
        self._bump()
        before = self.get(entity.id)
        scope = self._scope_of(entity)
        if (entity.name, scope) != (before.name, self._scope_of(before)):
            self._guard_name(entity)
        with conflicts_as(self.kind):
            self._conn.execute(
                _UPDATE,
                {
                    **self._key(entity.id),
                    "scope": scope,
                    "name": entity.name,
                    "data": entity.model_dump_json(),
                },
            )
        self._journal.changes.append(Change(self.kind, Op.UPDATED, entity, before))
        return entity

    def touch(self, entity_ids: Iterable[str]) -> None:
        """Rewrite these rows unchanged (no change is reported): a concurrent transaction
        that touches or writes one of them too conflicts (PostgreSQL) and is re-run
        (`Store.run`), so both cannot act on the same stale view. (SQLite runs writers
        one at a time anyway.)"""
        self._journal.check_writable()
        ids = sorted(set(entity_ids))  # one order everywhere: no deadlock between two
        if ids:
            self._conn.execute(_TOUCH, {"key_kind": self.kind, "ids": ids})

    def delete(self, entity_id: str) -> E:
        self._journal.check_writable()
        self._bump()
        entity = self.get(entity_id)
        self._conn.execute(_DELETE, self._key(entity_id))
        self._journal.changes.append(Change(self.kind, Op.DELETED, entity))
        return entity

    def _named(self, name: str, scope: str) -> Any:
        return self._conn.execute(
            _BY_NAME, {"kind": self.kind, "scope": scope, "name": name}
        ).first()

    def _guard_name(self, entity: E) -> str:
        """Refuse a name another entity has in the same scope; returns the scope."""
        scope = self._scope_of(entity)
        other = self._named(entity.name, scope)
        if other is not None and other.id != entity.id:
            raise ConflictError(self.kind, f"name {entity.name!r} is already used")
        return scope
