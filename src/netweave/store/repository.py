"""The repository: one interface over SQLite (default) and PostgreSQL.

Usage::

    store = Store.open("sqlite:///netweave.db")
    with store.transaction() as tx:          # all-or-nothing
        tx.devices.add(device)
        tx.endpoints.add(endpoint)
    store.read().devices.list()              # read-only snapshot

Every committed write is reported once to the listeners added with `on_commit`, as a
list of `Change`s in write order, so the caller can publish events after the fact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from netweave.model import ConfigRule, Device, Endpoint, Link, Service
from netweave.model import Connection as PathConnection
from netweave.model.common import Entity
from netweave.store.engine import create_store_engine
from netweave.store.errors import ConflictError, NotFoundError
from netweave.store.schema import config_rules, entities, metadata

E = TypeVar("E", bound=Entity)


class Op(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True)
class Change:
    """One committed write: `kind` is the collection name, `entity` the state after it
    (before it, for deletions); `before` is the replaced state, for updates."""

    kind: str
    op: Op
    entity: BaseModel
    before: BaseModel | None = None


@dataclass
class _Journal:
    changes: list[Change] = field(default_factory=list)
    writable: bool = True


class EntityCollection(Generic[E]):
    """The entities of one kind. `scope_of` gives the parent id that names are unique in."""

    def __init__(
        self,
        conn: Connection,
        journal: _Journal,
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

    def find(self, entity_id: str) -> E | None:
        row = self._conn.execute(select(entities.c.data).where(self._where(entity_id))).first()
        return None if row is None else self._model.model_validate_json(row[0])

    def get(self, entity_id: str) -> E:
        found = self.find(entity_id)
        if found is None:
            raise NotFoundError(self.kind, entity_id)
        return found

    def find_by_name(self, name: str, scope: str = "") -> E | None:
        query = select(entities.c.data).where(
            entities.c.kind == self.kind, entities.c.scope == scope, entities.c.name == name
        )
        row = self._conn.execute(query).first()
        return None if row is None else self._model.model_validate_json(row[0])

    def list(self, scope: str | None = None) -> list[E]:
        query = select(entities.c.data).where(entities.c.kind == self.kind)
        if scope is not None:
            query = query.where(entities.c.scope == scope)
        rows = self._conn.execute(query.order_by(entities.c.name))
        return [self._model.model_validate_json(data) for (data,) in rows]

    def count(self) -> int:
        return len(
            self._conn.execute(select(entities.c.id).where(entities.c.kind == self.kind)).all()
        )

    def _check_writable(self) -> None:
        if not self._journal.writable:
            raise RuntimeError("read-only snapshot: use store.transaction() to write")

    def add(self, entity: E) -> E:
        self._check_writable()
        if self.find(entity.id) is not None:
            raise ConflictError(self.kind, f"id {entity.id!r} already exists", field="id")
        self._guard_name(entity)
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
        self._check_writable()
        before = self.get(entity.id)
        self._guard_name(entity)
        self._conn.execute(
            update(entities)
            .where(self._where(entity.id))
            .values(scope=self._scope_of(entity), name=entity.name, data=entity.model_dump_json())
        )
        self._journal.changes.append(Change(self.kind, Op.UPDATED, entity, before))
        return entity

    def delete(self, entity_id: str) -> E:
        self._check_writable()
        entity = self.get(entity_id)
        self._conn.execute(delete(entities).where(self._where(entity_id)))
        self._journal.changes.append(Change(self.kind, Op.DELETED, entity))
        return entity

    def _guard_name(self, entity: E) -> None:
        other = self.find_by_name(entity.name, self._scope_of(entity))
        if other is not None and other.id != entity.id:
            raise ConflictError(self.kind, f"name {entity.name!r} is already used")


def _rule_row(rule: ConfigRule) -> dict[str, Any]:
    row = rule.model_dump(mode="json", exclude={"value"})
    row["value"] = rule.model_dump_json(include={"value"})
    return row


class _ValueOnly(BaseModel):
    value: dict[str, Any]


def _rule_from_row(row: Any) -> ConfigRule:
    data = dict(row._mapping)
    data["value"] = _ValueOnly.model_validate_json(data["value"]).value
    return ConfigRule.model_validate(data)


class RuleCollection:
    """Config rules, keyed by id, looked up by device or owner. Bulk-friendly."""

    kind = "config_rule"

    def __init__(self, conn: Connection, journal: _Journal) -> None:
        self._conn = conn
        self._journal = journal

    def find(self, rule_id: str) -> ConfigRule | None:
        row = self._conn.execute(select(config_rules).where(config_rules.c.id == rule_id)).first()
        return None if row is None else _rule_from_row(row)

    def get(self, rule_id: str) -> ConfigRule:
        found = self.find(rule_id)
        if found is None:
            raise NotFoundError(self.kind, rule_id)
        return found

    def list(self, device_id: str | None = None, owner: str | None = None) -> list[ConfigRule]:
        query = select(config_rules)
        if device_id is not None:
            query = query.where(config_rules.c.device_id == device_id)
        if owner is not None:
            query = query.where(config_rules.c.owner == owner)
        return [
            _rule_from_row(row) for row in self._conn.execute(query.order_by(config_rules.c.id))
        ]

    def add_many(self, rules: Sequence[ConfigRule]) -> None:
        """Insert new rules in one statement; a duplicate id fails the whole batch."""
        if not self._journal.writable:
            raise RuntimeError("read-only snapshot: use store.transaction() to write")
        if not rules:
            return
        self._conn.execute(insert(config_rules), [_rule_row(rule) for rule in rules])
        self._journal.changes.extend(Change(self.kind, Op.CREATED, rule) for rule in rules)

    def put(self, rule: ConfigRule) -> ConfigRule:
        """Insert or replace one rule."""
        before = self.find(rule.id)
        if before is None:
            self.add_many([rule])
            return rule
        self._conn.execute(
            update(config_rules).where(config_rules.c.id == rule.id).values(_rule_row(rule))
        )
        self._journal.changes.append(Change(self.kind, Op.UPDATED, rule, before))
        return rule

    def delete_many(self, rule_ids: Iterable[str]) -> int:
        ids = list(rule_ids)
        if not self._journal.writable:
            raise RuntimeError("read-only snapshot: use store.transaction() to write")
        removed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            result = self._conn.execute(delete(config_rules).where(config_rules.c.id.in_(chunk)))
            removed += result.rowcount
        return removed


class Repository:
    """All collections over one database connection (one transaction)."""

    def __init__(self, conn: Connection, journal: _Journal) -> None:
        self.devices = EntityCollection(conn, journal, "device", Device, lambda e: "")
        self.endpoints = EntityCollection(
            conn, journal, "endpoint", Endpoint, lambda e: e.device_id
        )
        self.links = EntityCollection(conn, journal, "link", Link, lambda e: "")
        self.services = EntityCollection(conn, journal, "service", Service, lambda e: "")
        self.connections = EntityCollection(
            conn, journal, "connection", PathConnection, lambda e: e.service_id
        )
        self.rules = RuleCollection(conn, journal)


CommitListener = Callable[[list[Change]], None]


class Store:
    """Entry point: opens the database and hands out transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._listeners: list[CommitListener] = []

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        engine = create_store_engine(url)
        if create:
            metadata.create_all(engine)
        return cls(engine)

    def on_commit(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[Repository]:
        """A read-write unit of work: everything in it commits, or nothing does."""
        journal = _Journal()
        try:
            with self.engine.begin() as conn:
                yield Repository(conn, journal)
        except IntegrityError as exc:
            raise ConflictError("store", f"constraint violated: {exc.orig}", field="") from exc
        for listener in self._listeners:
            listener(journal.changes)

    @contextmanager
    def read(self) -> Iterator[Repository]:
        """A read-only view (a write through it raises)."""
        with self.engine.connect() as conn:
            yield Repository(conn, _Journal(writable=False))

    def close(self) -> None:
        self.engine.dispose()
