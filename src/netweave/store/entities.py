"""Entities of one kind (devices, endpoints, ...) stored as JSON documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from netweave.model.common import Entity
from netweave.store.changes import Change, Journal, Op
from netweave.store.db_errors import conflicts_as
from netweave.store.errors import ConflictError, NotFoundError
from netweave.store.schema import entities

E = TypeVar("E", bound=Entity)
# Built once: building a statement costs more than running it on a primary key.
_BY_ID = select(entities.c.data).where(
    entities.c.kind == bindparam("kind"), entities.c.id == bindparam("id")
)


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

    def _where(self, entity_id: str) -> Any:
        return and_(entities.c.kind == self.kind, entities.c.id == entity_id)

    def _of_kind(self, scope: str | None) -> Any:
        if scope is None:
            return entities.c.kind == self.kind
        return and_(entities.c.kind == self.kind, entities.c.scope == scope)

    def find(self, entity_id: str) -> E | None:
        row = self._conn.execute(_BY_ID, {"kind": self.kind, "id": entity_id}).first()
        return None if row is None else self._model.model_validate_json(row[0])

    def get(self, entity_id: str) -> E:
        found = self.find(entity_id)
        if found is None:
            raise NotFoundError(self.kind, entity_id)
        return found

    def find_by_name(self, name: str, scope: str = "") -> E | None:
        query = select(entities.c.data).where(self._of_kind(scope), entities.c.name == name)
        row = self._conn.execute(query).first()
        return None if row is None else self._model.model_validate_json(row[0])

    def list(
        self, scope: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[E]:
        """Entities ordered by name (within a scope, if given); `limit`/`offset` page."""
        query = (
            select(entities.c.data)
            .where(self._of_kind(scope))
            .order_by(entities.c.name, entities.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [self._model.model_validate_json(data) for (data,) in self._conn.execute(query)]

    def count(self, scope: str | None = None) -> int:
        query = select(func.count()).select_from(entities).where(self._of_kind(scope))
        return int(self._conn.execute(query).scalar_one())

    def add(self, entity: E) -> E:
        self._journal.check_writable()
        if self.find(entity.id) is not None:
            raise ConflictError(self.kind, f"id {entity.id!r} already exists", field="id")
        self._guard_name(entity)
        with conflicts_as(self.kind):
            self._conn.execute(
                insert(entities).values(
                    kind=self.kind,
                    id=entity.id,
                    scope=self._scope_of(entity),
                    name=entity.name,
                    data=entity.model_dump_json(),
                )
            )
        self._journal.changes.append(Change(self.kind, Op.CREATED, entity))
        return entity

    def update(self, entity: E) -> E:
        self._journal.check_writable()
        before = self.get(entity.id)
        self._guard_name(entity)
        with conflicts_as(self.kind):
            self._conn.execute(
                update(entities)
                .where(self._where(entity.id))
                .values(
                    scope=self._scope_of(entity), name=entity.name, data=entity.model_dump_json()
                )
            )
        self._journal.changes.append(Change(self.kind, Op.UPDATED, entity, before))
        return entity

    def delete(self, entity_id: str) -> E:
        self._journal.check_writable()
        entity = self.get(entity_id)
        self._conn.execute(delete(entities).where(self._where(entity_id)))
        self._journal.changes.append(Change(self.kind, Op.DELETED, entity))
        return entity

    def _guard_name(self, entity: E) -> None:
        other = self.find_by_name(entity.name, self._scope_of(entity))
        if other is not None and other.id != entity.id:
            raise ConflictError(self.kind, f"name {entity.name!r} is already used")
