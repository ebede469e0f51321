"""Store benchmark: bulk insert and lookups of config rules, against naive baselines.

Run: ``python -m bench.store [--quick] [--db sqlite|POSTGRESQL_URL] [--batch N]``.

Data: 1,000,000 rules (quick: 50,000) on 1,000 rules per device and 100 per owner,
ids as netweave makes them (UUIDv5 of owner, device, key: random order). Building the
`ConfigRule` objects is not timed; everything after it is.

- bulk insert: `RuleCollection.add_many`, one transaction per batch (default 10,000).
  Baseline: a naive writer, one row per transaction (plain SQLAlchemy engine, the
  backend's default settings, same table and indexes), on a smaller sample.
- lookup by id: `find` (one query per id) and `get_many` (1,000 ids a call) on a
  random sample. Baseline: a new database connection per lookup (no pool).
- lookup by device: `list(device_id=...)` (1,000 rules each). Baseline: the same
  query with the index not used (SQLite ``NOT INDEXED``; PostgreSQL index scans off).
"""

from __future__ import annotations

import json
import random
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, insert, select, text
from sqlalchemy.pool import NullPool

from bench.common import Stopwatch, parser, report
from netweave.model import ConfigRule
from netweave.model.ids import device_id, rule_id
from netweave.store import Store
from netweave.store.engine import normalise_url
from netweave.store.schema import config_rules, metadata

RULES_PER_DEVICE = 1000
RULES_PER_OWNER = 100
GET_MANY_CHUNK = 1000


@dataclass(frozen=True)
class Sizes:
    rules: int
    naive_inserts: int
    lookups: int
    naive_lookups: int
    device_lookups: int
    naive_device_lookups: int


FULL = Sizes(1_000_000, 5_000, 100_000, 2_000, 200, 5)
QUICK = Sizes(50_000, 1_000, 10_000, 500, 50, 5)


def make_rule(index: int) -> ConfigRule:
    device = device_id(f"sw{index // RULES_PER_DEVICE:05}")
    owner = f"service/s{index // RULES_PER_OWNER:06}"
    key = f"/flow/table=0/priority=100/in_port={index % RULES_PER_DEVICE}"
    return ConfigRule(
        id=rule_id(owner, device, key),
        owner=owner,
        device_id=device,
        key=key,
        value={
            "match": {"in_port": index % 48, "eth_dst": "aa:bb:cc:00:00:01"},
            "actions": [{"output": 2}],
        },
    )


def _with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def databases(db: str) -> Iterator[tuple[str, str]]:
    """Two fresh databases (netweave's, the naive writer's), removed afterwards."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="netweave-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'store.db'}", f"sqlite:///{Path(tmp) / 'naive.db'}"
        return
    admin = create_engine(normalise_url(db))
    schemas = [f"bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _with_schema(db, schemas[0]), _with_schema(db, schemas[1])
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _naive_row(rule: ConfigRule) -> dict[str, Any]:
    row = rule.model_dump(mode="json")
    row["value"] = json.dumps(row["value"])
    return row


def _naive_rule(row: Any) -> ConfigRule:
    return ConfigRule.model_validate({**row._mapping, "value": json.loads(row.value)})


def naive_insert(url: str, count: int) -> float:
    engine = create_engine(normalise_url(url))
    metadata.create_all(engine)
    rules = [make_rule(index) for index in range(count)]
    watch = Stopwatch()
    with watch:
        for rule in rules:
            with engine.begin() as conn:
                conn.execute(insert(config_rules).values(_naive_row(rule)))
    engine.dispose()
    return watch.rate(count)


def bulk_insert(store: Store, count: int, batch: int) -> float:
    watch = Stopwatch()
    for start in range(0, count, batch):
        rules = [make_rule(index) for index in range(start, min(start + batch, count))]
        with watch, store.transaction() as tx:
            tx.rules.add_many(rules)
    return watch.rate(count)


def naive_lookups_by_id(url: str, ids: list[str]) -> float:
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    watch = Stopwatch()
    with watch:
        for one in ids:
            with engine.connect() as conn:
                _naive_rule(
                    conn.execute(select(config_rules).where(config_rules.c.id == one)).one()
                )
    engine.dispose()
    return watch.rate(len(ids))


def lookups_by_id(store: Store, ids: list[str]) -> tuple[float, float]:
    """(find, get_many) ids per second."""
    one_by_one, batched = Stopwatch(), Stopwatch()
    with store.read() as r:
        with one_by_one:
            for one in ids:
                r.rules.get(one)
        with batched:
            for start in range(0, len(ids), GET_MANY_CHUNK):
                r.rules.get_many(ids[start : start + GET_MANY_CHUNK])
    return one_by_one.rate(len(ids)), batched.rate(len(ids))


def _full_scan(conn: Connection) -> str:
    """A by-device query that cannot use an index."""
    if conn.dialect.name == "sqlite":
        return "SELECT * FROM config_rules NOT INDEXED WHERE device_id = :device ORDER BY id"
    for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
        conn.exec_driver_sql(f"SET {setting} = off")
    return "SELECT * FROM config_rules WHERE device_id = :device ORDER BY id"


def naive_lookups_by_device(engine: Engine, devices: list[str]) -> float:
    watch = Stopwatch()
    with engine.connect() as conn:
        query = text(_full_scan(conn))
        with watch:
            for device in devices:
                found = [_naive_rule(row) for row in conn.execute(query, {"device": device})]
                assert len(found) == RULES_PER_DEVICE
    return watch.rate(len(devices))


def lookups_by_device(store: Store, devices: list[str]) -> float:
    watch = Stopwatch()
    with store.read() as r, watch:
        for device in devices:
            assert len(r.rules.list(device_id=device)) == RULES_PER_DEVICE
    return watch.rate(len(devices))


def main() -> None:
    args = parser(__doc__.split("\n\n", 1)[0])
    args.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a URL")
    args.add_argument("--batch", type=int, default=10_000, help="rules per transaction")
    options = args.parse_args()
    sizes = QUICK if options.quick else FULL
    pick = random.Random(1)
    ids = [make_rule(i).id for i in pick.sample(range(sizes.rules), sizes.lookups)]
    devices = [make_rule(i).device_id for i in range(0, sizes.rules, RULES_PER_DEVICE)]
    devices = pick.sample(devices, min(sizes.device_lookups, len(devices)))
    print(f"# {sizes.rules:,} rules, backend {options.db.split('://')[0]}", flush=True)
    with databases(options.db) as (store_url, naive_url):
        base = report(
            f"naive insert (a transaction per row, {sizes.naive_inserts:,} rows)",
            naive_insert(naive_url, sizes.naive_inserts),
            "rows/s",
        )
        store = Store.open(store_url)
        try:
            report(
                f"bulk insert (add_many, {options.batch:,} rows per transaction)",
                bulk_insert(store, sizes.rules, options.batch),
                "rows/s",
                base,
            )
            base = report(
                "naive lookup by id (a new connection each)",
                naive_lookups_by_id(store_url, ids[: sizes.naive_lookups]),
                "lookups/s",
            )
            one_by_one, batched = lookups_by_id(store, ids)
            report("lookup by id (get)", one_by_one, "lookups/s", base)
            report(f"lookup by id (get_many, {GET_MANY_CHUNK:,} a call)", batched, "ids/s", base)
            base = report(
                f"naive lookup by device (full scan, {RULES_PER_DEVICE:,} rules each)",
                naive_lookups_by_device(store.engine, devices[: sizes.naive_device_lookups]),
                "lookups/s",
            )
            report(
                f"lookup by device (list, {RULES_PER_DEVICE:,} rules each)",
                lookups_by_device(store, devices),
                "lookups/s",
                base,
            )
        finally:
            store.close()


if __name__ == "__main__":
    main()
