"""Config rules: many small rows, written and read in bulk by the reconcilers.

Rows are built straight from the model's fields (``value`` as JSON text, no pydantic
round trip); new rules go in with COPY on PostgreSQL, elsewhere in chunks through one
prepared statement (executemany).
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

import psycopg
from pydantic_core import from_json, to_json
from sqlalchemy import Connection, Dialect, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from netweave.gcpause import gc_paused
from netweave.model import ConfigRule, RuleStatus
from netweave.store.changes import Change, Journal, Op
from netweave.store.db_errors import conflicts_as
from netweave.store.errors import NotFoundError
from netweave.store.schema import config_rules

# Ids per IN (...) list and rows per executemany: well under every backend's limit on
# bound parameters (SQLite 32766, PostgreSQL 65535).
CHUNK = 2000

_T = TypeVar("_T")
_c = config_rules.c
_COLUMNS = tuple(config_rules.c.keys())
# Built once: building a statement costs more than running it on a primary key.
_BY_ID = select(config_rules).where(_c.id == bindparam("id"))
_IN_IDS = _c.id.in_(bindparam("ids", expanding=True))
_BY_IDS = select(config_rules).where(_IN_IDS)
_SET_STATUS = (
    update(config_rules)
    .where(_IN_IDS)
    .values(status=bindparam("new_status"), error=bindparam("new_error"))
)
_DELETE_IDS = delete(config_rules).where(_IN_IDS).returning(*config_rules.c)
_BY_OWNERS = (
    select(config_rules).where(_c.owner.in_(bindparam("owners", expanding=True))).order_by(_c.id)
)
_FILTERED = ("device_id", "owner", "status")
_LIST = {
    wanted: select(config_rules)
    .where(*(_c[name] == bindparam(f"by_{name}") for name in wanted))
    .order_by(_c.id)
    for wanted in (
        tuple(name for i, name in enumerate(_FILTERED) if mask >> i & 1) for mask in range(8)
    )
}


@functools.cache
def _compiled_insert(dialect: Dialect) -> SQLCompiler:
    return insert(config_rules).compile(dialect=dialect)


def _chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _values(rule: ConfigRule) -> tuple[Any, ...]:
    """The column values of `rule`, in `_COLUMNS` order."""
    value = to_json(rule.value).decode()
    return (
        rule.id,
        rule.owner,
        rule.device_id,
        rule.key,
        value,
        str(rule.action),
        str(rule.status),
        rule.error,
    )


def _row(rule: ConfigRule) -> dict[str, Any]:
    return dict(zip(_COLUMNS, _values(rule), strict=True))


def _rule(row: Sequence[Any]) -> ConfigRule:
    fields = dict(zip(_COLUMNS, row, strict=True))
    fields["value"] = from_json(fields["value"])
    return ConfigRule.model_validate(fields)


def _filters(device_id: str | None, owner: str | None, status: RuleStatus | None) -> list[Any]:
    wanted = ((_c.device_id, device_id), (_c.owner, owner), (_c.status, status))
    return [column == str(value) for column, value in wanted if value is not None]


class RuleCollection:
    """Config rules, keyed by id, looked up by device, owner or status."""

    kind = "config_rule"

    def __init__(self, conn: Connection, journal: Journal) -> None:
        self._conn = conn
        self._journal = journal

    def find(self, rule_id: str) -> ConfigRule | None:
        row = self._conn.execute(_BY_ID, {"id": rule_id}).first()
        return None if row is None else _rule(row)

    def get(self, rule_id: str) -> ConfigRule:
        found = self.find(rule_id)
        if found is None:
            raise NotFoundError(self.kind, rule_id)
        return found

    @gc_paused()
    def find_many(self, rule_ids: Iterable[str]) -> dict[str, ConfigRule]:
        """The rules with these ids that exist, by id."""
        found: dict[str, ConfigRule] = {}
        for chunk in _chunks(list(rule_ids)):
            for row in self._conn.execute(_BY_IDS, {"ids": chunk}):
                found[row.id] = _rule(row)
        return found

    def get_many(self, rule_ids: Sequence[str]) -> list[ConfigRule]:
        """The rules with these ids, in that order; NotFoundError names the first missing."""
        found = self.find_many(rule_ids)
        missing = next((rule_id for rule_id in rule_ids if rule_id not in found), None)
        if missing is not None:
            raise NotFoundError(self.kind, missing)
        return [found[rule_id] for rule_id in rule_ids]

    @gc_paused()
    def list(
        self,
        device_id: str | None = None,
        owner: str | None = None,
        status: RuleStatus | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ConfigRule]:
        """Rules matching every filter given, ordered by id; `limit`/`offset` page."""
        given = {"device_id": device_id, "owner": owner, "status": status}
        params = {f"by_{name}": str(value) for name, value in given.items() if value is not None}
        query = _LIST[tuple(name for name in _FILTERED if given[name] is not None)]
        if limit is not None or offset:
            query = query.limit(limit).offset(offset or None)
        return [_rule(row) for row in self._conn.execute(query, params)]

    @gc_paused()
    def list_owned(self, owners: Iterable[str]) -> dict[str, builtins.list[ConfigRule]]:
        """The rules of each of these owners (ordered by id), in one query per chunk."""
        owned: dict[str, list[ConfigRule]] = {owner: [] for owner in owners}
        for chunk in _chunks(builtins.list(owned)):
            for row in self._conn.execute(_BY_OWNERS, {"owners": chunk}):
                owned[row.owner].append(_rule(row))
        return owned

    def count(
        self,
        device_id: str | None = None,
        owner: str | None = None,
        status: RuleStatus | None = None,
    ) -> int:
        query = select(func.count()).select_from(config_rules)
        query = query.where(*_filters(device_id, owner, status))
        return int(self._conn.execute(query).scalar_one())

    @gc_paused()
    def add_many(self, rules: Sequence[ConfigRule]) -> None:
        """Insert new rules; a duplicate id fails the transaction with ConflictError(id)."""
        self._journal.check_writable()
        if not rules:
            return
        with conflicts_as(self.kind):
            if self._conn.dialect.name == "postgresql":
                self._copy(rules)
            else:
                self._insert(rules)
        self._journal.changes.extend(Change(self.kind, Op.CREATED, rule) for rule in rules)

    def _insert(self, rules: Sequence[ConfigRule]) -> None:
        """executemany of one prepared INSERT, in chunks."""
        statement = _compiled_insert(self._conn.dialect)
        row = _values if statement.positional else _row
        for chunk in _chunks(rules):
            self._conn.exec_driver_sql(str(statement), [row(rule) for rule in chunk])

    def _copy(self, rules: Sequence[ConfigRule]) -> None:
        """PostgreSQL's COPY, several times faster than INSERTs; its errors are wrapped
        like SQLAlchemy's own, so the usual translation applies."""
        quote = self._conn.dialect.identifier_preparer.quote
        sql = f"COPY config_rules ({', '.join(map(quote, _COLUMNS))}) FROM STDIN"
        dbapi_conn = cast("psycopg.Connection[Any]", self._conn.connection.driver_connection)
        try:
            with dbapi_conn.cursor() as cursor, cursor.copy(sql) as copy:
                for rule in rules:
                    copy.write_row(_values(rule))
        except psycopg.Error as exc:
            raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc

    def put(self, rule: ConfigRule) -> ConfigRule:
        """Insert or replace one rule."""
        self.put_many([rule])
        return rule

    @gc_paused()
    def put_many(self, rules: Sequence[ConfigRule]) -> None:
        """Insert the new rules and replace the existing ones (matched by id)."""
        self._journal.check_writable()
        before = self.find_many(rule.id for rule in rules)
        self.add_many([rule for rule in rules if rule.id not in before])
        replaced = [rule for rule in rules if rule.id in before]
        statement = update(config_rules).where(_c.id == bindparam("old_id"))
        for chunk in _chunks(replaced):
            self._conn.execute(statement, [{"old_id": rule.id, **_row(rule)} for rule in chunk])
        self._journal.changes.extend(
            Change(self.kind, Op.UPDATED, rule, before[rule.id]) for rule in replaced
        )

    def set_status(
        self, rule_ids: Iterable[str], status: RuleStatus, error: str | None = None
    ) -> builtins.list[ConfigRule]:
        """Record what the device reported for these rules; returns them as updated
        (ids that do not exist are skipped)."""
        return self.mark(self.find_many(rule_ids).values(), status, error)

    @gc_paused()
    def mark(
        self, rules: Iterable[ConfigRule], status: RuleStatus, error: str | None = None
    ) -> builtins.list[ConfigRule]:
        """`set_status` for rules already read in this transaction (as they are stored)."""
        self._journal.check_writable()
        updated: list[ConfigRule] = []
        for chunk in _chunks(list(rules)):
            ids = [old.id for old in chunk]
            params = {"ids": ids, "new_status": str(status), "new_error": error}
            self._conn.execute(_SET_STATUS, params)
            for old in chunk:
                new = old.model_copy(update={"status": status, "error": error})
                updated.append(new)
                self._journal.changes.append(Change(self.kind, Op.UPDATED, new, old))
        return updated

    @gc_paused()
    def delete_many(self, rule_ids: Iterable[str]) -> int:
        """Delete these rules (missing ids are skipped); returns how many were deleted."""
        self._journal.check_writable()
        deleted: list[ConfigRule] = []
        for chunk in _chunks(list(rule_ids)):
            deleted.extend(_rule(row) for row in self._conn.execute(_DELETE_IDS, {"ids": chunk}))
        self._journal.changes.extend(Change(self.kind, Op.DELETED, rule) for rule in deleted)
        return len(deleted)
