"""Entities of one kind (devices, endpoints, ...) stored as JSON documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from netweave.gcpause import gc_paused
from netweave.model.common import Entity
from netweave.store.changes import Change, Journal, Op
from netweave.store.db_errors import conflicts_as
from netweave.store.errors import ConflictError, NotFoundError
from netweave.store.schema import entities

E = TypeVar("E", bound=Entity)

# Built once: building a statement costs more than running it on a primary key.
_c = entities.c
# (Key parameters are not named like columns: insert/update reserve those names.)
_KEY = (_c.kind == bindparam("key_kind"), _c.id == bindparam("key_id"))
_BY_ID = select(_c.data).where(*_KEY)
_BY_NAME = select(_c.id, _c.data).where(
    _c.kind == bindparam("kind"), _c.scope == bindparam("scope"), _c.name == bindparam("name")
)
_INSERT = insert(entities)
_UPDATE = update(entities).where(*_KEY)
_DELETE = delete(entities).where(*_KEY)


class EntityCollection(Generic[E]):
    """The entities of one kind. `scope_of` gives the parent id that names are unique in."""

    def __init__(
        self,
        conn: Connection,
        journal: Journal,
        kind: str,
        model: type[E],
        scope_of: Callable[[E], str],
    ) -> None:
        self._conn = conn
        self._journal = journal
        self.kind = kind
        self._model = model
        self._scope_of = scope_of

    def _key(self, entity_id: str) -> dict[str, str]:
        return {"key_kind": self.kind, "key_id": entity_id}

    def _of_kind(self, scope: str | None) -> list[Any]:
        if scope is None:
            return [_c.kind == self.kind]
        return [_c.kind == self.kind, _c.scope == scope]

    def find(self, entity_id: str) -> E | None:
        row = self._conn.execute(_BY_ID, self._key(entity_id)).first()
        return None if row is None else self._model.model_validate_json(row.data)

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
        query = (
            select(_c.data)
            .where(*self._of_kind(scope))
            .order_by(_c.name, _c.id)
            .limit(limit)
            .offset(offset or None)
        )
        return [self._model.model_validate_json(data) for (data,) in self._conn.execute(query)]

    def count(self, scope: str | None = None) -> int:
        query = select(func.count()).select_from(entities).where(*self._of_kind(scope))
        return int(self._conn.execute(query).scalar_one())

    def add(self, entity: E) -> E:
        self._journal.check_writable()
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
        before = self.get(entity.id)
        scope = self._guard_name(entity)
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

    def delete(self, entity_id: str) -> E:
        self._journal.check_writable()
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
