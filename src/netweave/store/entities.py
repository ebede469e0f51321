"""Entities of one kind (devices, endpoints, ...) stored as JSON documents."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from netweave.gcpause import gc_paused
from netweave.model.common import Entity
from netweave.store.cache import CACHED_KINDS, EntityCache
from netweave.store.changes import Change, Journal, Op
from netweave.store.db_errors import conflicts_as
from netweave.store.errors import ConflictError, NotFoundError
from netweave.store.kept import KeptKind
from netweave.store.schema import entities

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
        self._kept = (
            KeptKind(conn, journal, kind, cache, self.list, self.find_many)
            if cache is not None and kind in CACHED_KINDS
            else None
        )

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
        if self._kept is None:
            return {entity.id: entity for entity in self.list()}
        return cast("Mapping[str, E]", self._kept.by_id())

    def fingerprint(self) -> Hashable:
        """What identifies the entities of this (cached) kind as this transaction sees
        them (see `KeptKind.fingerprint`)."""
        assert self._kept is not None, f"{self.kind} is not a cached kind"
        return self._kept.fingerprint()

    def generation(self) -> int:
        """The generation of this (cached) kind on SQLite, as this transaction sees it."""
        assert self._kept is not None, f"{self.kind} is not a cached kind"
        return self._kept.generation()

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
        if self._kept is not None:
            self._kept.before_write()
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
        if self._kept is not None:
            self._kept.before_write()
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
        if self._kept is not None:
            self._kept.before_write()
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
