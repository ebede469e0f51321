"""Concurrent writers never corrupt the store: threads on both backends, processes on
SQLite. Each writer adds its own devices and rules, marks its previous rules applied,
increments one shared counter (a hot row: a lost update would show) and every tenth
round races every other writer for the same device name."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from netweave.model import ConfigRule, Device, RuleStatus
from netweave.model.ids import device_id
from netweave.store import ConflictError, Repository, Store, TransientError
from netweave.store import engine as store_engine

COUNTER = device_id("counter")
# Every writer updates the counter row, so on PostgreSQL a round may lose that race
# several times in a row before it gets through.
HOT_ROW_ATTEMPTS = 50


def _is_shared(round_: int) -> bool:
    return round_ % 10 == 0


def _rule_ids(writer: str, round_: int) -> list[str]:
    return [f"{writer}-{round_}-{k}" for k in range(3)]


def _own_round(tx: Repository, writer: str, round_: int) -> None:
    tx.devices.add(Device(id=device_id(f"{writer}-{round_}"), name=f"{writer}-{round_}"))
    tx.rules.add_many(
        [
            ConfigRule(id=rule, owner=writer, device_id=COUNTER, key=f"/k/{rule}")
            for rule in _rule_ids(writer, round_)
        ]
    )
    tx.rules.set_status(_rule_ids(writer, round_ - 1), RuleStatus.APPLIED)
    counter = tx.devices.get(COUNTER)
    counter.attributes = {"n": str(int(counter.attributes["n"]) + 1)}
    tx.devices.update(counter)


def write_burst(url: str, writer: str, rounds: int) -> Counter[str]:
    """Run `rounds` transactions as `writer`; tally wins, conflicts and own writes."""
    tally: Counter[str] = Counter()
    store = Store.open(url, create=False)
    try:
        for round_ in range(rounds):
            if not _is_shared(round_):
                store.run(lambda tx, r=round_: _own_round(tx, writer, r), attempts=HOT_ROW_ATTEMPTS)
                tally["own"] += 1
                continue
            shared = Device(id=device_id(f"shared-{round_}/{writer}"), name=f"shared-{round_}")
            try:
                store.run(lambda tx, d=shared: tx.devices.add(d))
                tally["won"] += 1
            except ConflictError as exc:
                assert (exc.kind, exc.field) == ("device", "name")
                tally["conflicts"] += 1
    finally:
        store.close()
    return tally


def _prepare(url: str) -> None:
    store = Store.open(url)
    with store.transaction() as tx:
        tx.devices.add(Device(id=COUNTER, name="counter", attributes={"n": "0"}))
    store.close()


def _check(url: str, tally: Counter[str], writers: int, rounds: int) -> None:
    shared_rounds = sum(map(_is_shared, range(rounds)))
    own_rounds = rounds - shared_rounds
    applied = sum(1 for r in range(1, rounds) if not _is_shared(r) and not _is_shared(r - 1))
    assert tally == {
        "own": writers * own_rounds,
        "won": shared_rounds,
        "conflicts": (writers - 1) * shared_rounds,
    }
    store = Store.open(url)
    try:
        with store.read() as r:
            assert r.devices.count() == 1 + writers * own_rounds + shared_rounds
            assert r.devices.get(COUNTER).attributes == {"n": str(writers * own_rounds)}
            assert r.rules.count() == 3 * writers * own_rounds
            assert r.rules.count(status=RuleStatus.APPLIED) == 3 * writers * applied
    finally:
        store.close()


def test_threads_never_lose_or_corrupt_writes(store_url: str) -> None:
    writers, rounds = 8, 100
    _prepare(store_url)
    with ThreadPoolExecutor(writers) as pool:
        tallies = pool.map(
            write_burst, [store_url] * writers, map(str, range(writers)), [rounds] * writers
        )
        total = sum(tallies, Counter())
    _check(store_url, total, writers, rounds)


def test_processes_never_lose_or_corrupt_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writers, rounds = 4, 50
    _prepare(url)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(writers, mp_context=spawn) as pool:
        tallies = pool.map(
            write_burst, [url] * writers, map(str, range(writers)), [rounds] * writers
        )
        total = sum(tallies, Counter())
    _check(url, total, writers, rounds)


def _hold(until: threading.Event, holding: threading.Event, store: Store, name: str) -> None:
    with store.transaction() as tx:
        tx.devices.add(Device(id=device_id(f"{name}/first"), name=name))
        holding.set()
        until.wait(10)


def _release_once_blocked(store: Store, release: threading.Event) -> None:
    """Let the first writer commit once the second waits on it: on PostgreSQL, once a
    session waits for a lock (its name check passed, its insert hit the first's row);
    on SQLite, where it waits for the write lock, after a moment."""
    if store.engine.dialect.name == "sqlite":
        time.sleep(0.3)
    else:
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        with store.engine.connect() as conn:
            deadline = time.monotonic() + 10
            while not conn.execute(waiting).scalar_one() and time.monotonic() < deadline:
                conn.rollback()
                time.sleep(0.01)
    release.set()


def test_unique_race_is_a_conflict_naming_the_field(store: Store) -> None:
    holding, release = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold, args=(release, holding, store, "s1"))
    first.start()
    holding.wait(10)
    threading.Thread(target=_release_once_blocked, args=(store, release)).start()
    with pytest.raises(ConflictError) as raised, store.transaction() as tx:
        tx.devices.add(Device(id=device_id("s1/second"), name="s1"))
    first.join()
    assert (raised.value.kind, raised.value.field) == ("device", "name")
    if store.engine.dialect.name == "postgresql":
        assert isinstance(raised.value.__cause__, IntegrityError)


def test_postgres_lost_update_is_transient_and_retried(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the race cannot happen")
    _prepare_counter(store)
    read, written = threading.Event(), threading.Event()
    attempts: list[int] = []

    def slow_increment(tx: Repository) -> None:
        attempts.append(1)
        counter = tx.devices.get(COUNTER)  # the snapshot is taken here
        read.set()
        written.wait(5)
        counter.attributes = {"n": str(int(counter.attributes["n"]) + 1)}
        tx.devices.update(counter)

    def fast_increment() -> None:
        read.wait(5)
        store.run(lambda tx: _increment(tx))
        written.set()

    fast = threading.Thread(target=fast_increment)
    fast.start()
    store.run(slow_increment)
    fast.join()
    assert len(attempts) == 2
    with store.read() as r:
        assert r.devices.get(COUNTER).attributes == {"n": "2"}


def _prepare_counter(store: Store) -> None:
    with store.transaction() as tx:
        tx.devices.add(Device(id=COUNTER, name="counter", attributes={"n": "0"}))


def _increment(tx: Repository) -> None:
    counter = tx.devices.get(COUNTER)
    counter.attributes = {"n": str(int(counter.attributes["n"]) + 1)}
    tx.devices.update(counter)


def test_postgres_lost_update_without_retry_is_transient(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the race cannot happen")
    _prepare_counter(store)
    with pytest.raises(TransientError), store.transaction() as tx:
        tx.devices.get(COUNTER)
        store.run(_increment)
        _increment(tx)


def test_sqlite_lock_timeout_is_transient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_engine, "SQLITE_BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "locked.db"
    store = Store.open(f"sqlite:///{path}")
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(TransientError, match="retry"), store.transaction() as tx:
            tx.devices.add(Device(id=device_id("s1"), name="s1"))
        assert time.monotonic() - started < 5
    finally:
        blocker.close()
        store.close()


def test_run_retries_transient_errors_then_gives_up(store: Store) -> None:
    commits: list[int] = []
    store.on_commit(lambda changes: commits.append(len(changes)))
    calls: list[int] = []

    def flaky(tx: Repository) -> str:
        calls.append(1)
        tx.devices.add(Device(id=device_id(f"s{len(calls)}"), name=f"s{len(calls)}"))
        if len(calls) < 3:
            raise TransientError("lost a race")
        return "done"

    assert store.run(flaky) == "done"
    assert (len(calls), commits) == (3, [1])
    with store.read() as r:
        assert [d.name for d in r.devices.list()] == ["s3"]

    def hopeless(tx: Repository) -> None:
        raise TransientError("always")

    with pytest.raises(TransientError, match="always"):
        store.run(hopeless, attempts=2)
