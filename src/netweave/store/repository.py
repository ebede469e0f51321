"""The repository: one interface over SQLite (default) and PostgreSQL.

Usage::

    store = Store.open("sqlite:///netweave.db")   # creates / migrates the schema
    with store.transaction() as tx:               # all-or-nothing
        tx.devices.add(device)
        tx.endpoints.add(endpoint)
    with store.read() as r:                       # read-only snapshot
        r.devices.list()
    store.run(lambda tx: reserve(tx, link_id))    # retried if it loses a race

Every committed write is reported once to the listeners added with `on_commit`, as a
list of `Change`s in write order, so the caller can publish events after the fact.

Concurrency: any number of threads and processes may write. A write that breaks
uniqueness raises `ConflictError` (naming the field) and rolls back. When the database
refuses a transaction because of a concurrent one (PostgreSQL serialization failure or
deadlock, SQLite lock timeout) `transaction()` raises `TransientError` and nothing is
written; `run(fn)` re-runs `fn` in a new transaction a few times before giving up, so
`fn` must be safe to re-run (no side effects outside the transaction).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from netweave.model import Alarm, AlarmRule, AuditEntry, Device, Endpoint, Link, Policy, Service
from netweave.model import Connection as PathConnection
from netweave.store.cache import EntityCache
from netweave.store.changes import CommitListener, Journal
from netweave.store.db_errors import translate
from netweave.store.engine import SQLITE_BEGIN, create_store_engine
from netweave.store.entities import EntityCollection
from netweave.store.errors import TransientError
from netweave.store.migrate import upgrade
from netweave.store.rules import RuleCollection

T = TypeVar("T")
RETRY_ATTEMPTS = 5
RETRY_BASE_DELAY_S = 0.01
RETRY_MAX_DELAY_S = 0.5


class Repository:
    """All collections over one database connection (one transaction)."""

    def __init__(
        self, conn: Connection, journal: Journal, cache: EntityCache | None = None
    ) -> None:
        self.devices = EntityCollection(conn, journal, "device", Device, lambda e: "", cache)
        self.endpoints = EntityCollection(
            conn, journal, "endpoint", Endpoint, lambda e: e.device_id, cache
        )
        self.links = EntityCollection(conn, journal, "link", Link, lambda e: "", cache)
        self.services = EntityCollection(conn, journal, "service", Service, lambda e: "", cache)
        self.connections = EntityCollection(
            conn, journal, "connection", PathConnection, lambda e: e.service_id, cache
        )
        self.rules = RuleCollection(conn, journal)
        self.alarm_rules = EntityCollection(conn, journal, "alarm_rule", AlarmRule, lambda e: "")
        self.alarms = EntityCollection(conn, journal, "alarm", Alarm, lambda e: e.rule_id)
        self.policies = EntityCollection(conn, journal, "policy", Policy, lambda e: "")
        self.audit = EntityCollection(conn, journal, "audit", AuditEntry, lambda e: e.policy_id)
        self._journal = journal
        self._cache = cache

    def topology_derived(self, name: str, build: Callable[[], T]) -> T:
        """What `build` makes of the devices and links (`by_id`) as this transaction
        sees them: kept by the process, built once per generation of both (see
        `netweave.store.cache`); built anew once this transaction wrote either."""
        topology = (self.devices, self.links)
        written = {change.kind for change in self._journal.changes}
        if self._cache is None or any(c.kind in written for c in topology):
            return build()
        generations = tuple((c.kind, c.fingerprint()) for c in topology)
        return self._cache.derived(name, generations, build)

    def expect_answers(self, owners: Iterable[str]) -> None:
        """Say that device answers for rules of these owners are still on their way (see
        `Changes`)."""
        self._journal.changes.awaited.update(owners)

    def settle(self, entity_id: str) -> None:
        """Say that a reconciler converged `entity_id` in this transaction (see `Changes`)."""
        self._journal.changes.settled.add(entity_id)


@contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc


class Store:
    """Entry point: opens the database and hands out transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._listeners: list[CommitListener] = []
        self._cache = EntityCache()

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        """Open the database at `url`; with `create`, create or migrate its schema."""
        engine = create_store_engine(url)
        if create:
            upgrade(engine)
        return cls(engine)

    def on_commit(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[Repository]:
        """A read-write unit of work: everything in it commits, or nothing does."""
        journal = Journal()
        with _store_errors(), self.engine.begin() as conn:
            yield Repository(conn, journal, self._cache)
        self._cache.advance(journal.bumped, journal.changes)
        for listener in self._listeners:
            listener(journal.changes)

    def run(self, work: Callable[[Repository], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
        """Run `work` in a transaction, re-running it (after a random pause of up to
        10 ms, 20 ms, 40 ms, ... capped at 0.5 s) when the database refuses it because of
        a concurrent one."""
        for attempt in range(attempts):
            try:
                with self.transaction() as tx:
                    return work(tx)
            except TransientError:
                if attempt == attempts - 1:
                    raise
                delay = min(RETRY_MAX_DELAY_S, RETRY_BASE_DELAY_S * 2**attempt)
                time.sleep(random.uniform(0, delay))
        raise ValueError(f"attempts must be at least 1, got {attempts}")

    @contextmanager
    def read(self) -> Iterator[Repository]:
        """A read-only snapshot (a write through it raises)."""
        with (
            _store_errors(),
            self.engine.connect().execution_options(
                postgresql_readonly=True, **{SQLITE_BEGIN: "DEFERRED"}
            ) as conn,
        ):
            yield Repository(conn, Journal(writable=False), self._cache)

    def close(self) -> None:
        self.engine.dispose()
