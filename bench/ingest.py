"""Monitoring benchmark: line-protocol ingest and queries, against a naive SQLite store.

Run: ``python -m bench.ingest [--quick]``.

Ingest. Data: 10,000 tag sets (100 devices x 100 ports; quick: 1,000) x 100 points
(quick: 20), 10 s apart, each line with 3 fields (``rx_bytes``/``tx_bytes`` integers,
``util`` float): 30,000 series, 3,000,000 samples, posted in bodies of 5,000 lines
(15,000 samples). Building the text is not timed.

- baseline: a naive writer: each line split on spaces, commas and ``=`` with no
  checks, then one ``INSERT`` per sample (series key text, timestamp, value; index on
  series and time) into a new SQLite file, one commit per body; on the first 30 bodies
  (quick: all).
- netweave: `LineParser.parse` (strict, every rule of the spec) + `EmbeddedTSDB.write`,
  in memory, then again with a new data directory (write-ahead log on disk, no fsync;
  the snapshot at `close` included); each of these, and parsing alone, best of 3
  rounds (a fresh parser and store each; the machine is shared). Then end to end: the
  bodies POSTed one after another by one `httpx` client to ``/write`` of the netweave
  API served by uvicorn in another process (in-memory store), the count checked on
  ``/metrics``.

Queries over 1 h of 10,000 series (``if.rx``, 100 devices x 100 ports, one sample every
10 s: 3,600,000 samples; quick: 1,000 series), loaded in both stores: the mean of one
random series in 1 min buckets (200 queries; quick: 50), and the mean per device in 1
min buckets over all series (20, SQLite 5 as it takes seconds; quick: 5 and 3), p50
and p99. Baseline: SQLite with an index on (series, ts) and the series' tags in a
joined table (indexed), ``GROUP BY`` bucket.
"""

from __future__ import annotations

import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from bench.common import Stopwatch, parser, report
from netweave.assurance import EmbeddedTSDB, Query, SampleBatch, TagMatcher, series_key
from netweave.assurance.lineproto import LineParser
from netweave.assurance.tsdb import HOUR_NS, RetentionPolicy

S = 1_000_000_000
T0 = 1_700_000_000 * S // HOUR_NS * HOUR_NS
LINES_PER_BODY = 5_000
FIELDS_PER_LINE = 3
ROUNDS = 3
POLICY = RetentionPolicy(downsample_after_ns=None, retention_ns=None)


@dataclass(frozen=True)
class Sizes:
    tag_sets: int
    points: int
    baseline_bodies: int
    query_series: int
    one_series_queries: int
    group_queries: int
    baseline_group_queries: int


FULL = Sizes(10_000, 100, 30, 10_000, 200, 20, 5)
QUICK = Sizes(1_000, 20, 1_000, 1_000, 50, 5, 3)


def bodies(sizes: Sizes) -> list[str]:
    lines = [
        f"if,device=sw{tag % 100:03},port=p{tag // 100:03} "
        f"rx_bytes={point * 1500 + tag}i,tx_bytes={point * 900}i,util={(tag % 97) / 97} "
        f"{T0 + point * 10 * S}"
        for point in range(sizes.points)
        for tag in range(sizes.tag_sets)
    ]
    return ["\n".join(lines[i : i + LINES_PER_BODY]) for i in range(0, len(lines), LINES_PER_BODY)]


def naive_sqlite(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE samples (series TEXT, ts INTEGER, value REAL)")
    db.execute("CREATE INDEX by_series ON samples (series, ts)")
    return db


def naive_ingest(db: sqlite3.Connection, body: str) -> int:
    count = 0
    for line in body.split("\n"):
        head, fields, stamp = line.split(" ")
        for field in fields.split(","):
            name, value = field.split("=")
            db.execute(
                "INSERT INTO samples VALUES (?, ?, ?)",
                (f"{head} {name}", int(stamp), float(value.rstrip("i"))),
            )
            count += 1
    db.commit()
    return count


def best_rate(rounds: int, run: Callable[[Stopwatch], int]) -> float:
    """The best samples/s of `rounds` runs; `run` times its work with the stopwatch and
    returns the samples it wrote."""
    best = 0.0
    for _ in range(rounds):
        clock = Stopwatch()
        best = max(best, clock.rate(run(clock)))
    return best


def ingest(sizes: Sizes, texts: list[str], workdir: Path) -> None:
    baseline_texts = texts[: sizes.baseline_bodies]

    def naive(clock: Stopwatch) -> int:
        (workdir / "naive.db").unlink(missing_ok=True)
        db = naive_sqlite(workdir / "naive.db")
        count = 0
        for body in baseline_texts:
            with clock:
                count += naive_ingest(db, body)
        db.close()
        return count

    base = report(
        f"ingest, naive SQLite INSERT per sample ({len(baseline_texts)} bodies)",
        best_rate(ROUNDS, naive),
        "samples/s",
    )

    def parse_only(clock: Stopwatch) -> int:
        lines, count = LineParser(), 0
        for body in texts:
            with clock:
                count += len(lines.parse(body).batch)
        return count

    report("parse only (LineParser)", best_rate(ROUNDS, parse_only), "samples/s", base)
    for label, data_dir in (("in memory", None), ("write-ahead log on disk", workdir / "tsdb")):

        def netweave(clock: Stopwatch, data_dir: Path | None = data_dir) -> int:
            if data_dir is not None:
                shutil.rmtree(data_dir, ignore_errors=True)
            tsdb = EmbeddedTSDB(data_dir, POLICY, clock=lambda: T0)
            lines, count = LineParser(), 0
            for body in texts:
                with clock:
                    count += tsdb.write(lines.parse(body).batch).samples
            with clock:
                tsdb.close()
            return count

        report(
            f"ingest, netweave parse + write, {label}",
            best_rate(ROUNDS, netweave),
            "samples/s",
            base,
        )
    ingest_over_http(texts, workdir, base)


SERVER = """
import sys, uvicorn
from netweave.api import create_app
from netweave.assurance import EmbeddedTSDB, RetentionPolicy
from netweave.bus import InProcessBus
from netweave.store import Store
policy = RetentionPolicy(downsample_after_ns=None, retention_ns=None)
app = create_app(Store.open(sys.argv[1]), InProcessBus(), tsdb=EmbeddedTSDB(None, policy))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ingest_over_http(texts: list[str], workdir: Path, base: float) -> None:
    port = free_port()
    url = f"sqlite:///{workdir / 'api.db'}"
    server = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(300):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            payloads = [body.encode() for body in texts]
            clock = Stopwatch()
            for payload in payloads:
                with clock:
                    client.post("/write", content=payload).raise_for_status()
            written = next(
                float(line.split()[1])
                for line in client.get("/metrics").text.splitlines()
                if line.startswith("netweave_tsdb_samples_written_total ")
            )
        report(
            "ingest, netweave over HTTP POST /write", clock.rate(int(written)), "samples/s", base
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def query_data(series: int) -> SampleBatch:
    keys = [
        series_key("if.rx", {"device": f"sw{i % 100:03}", "port": f"p{i // 100:03}"})
        for i in range(series)
    ]
    points = HOUR_NS // (10 * S)
    rng = np.random.default_rng(1)
    return SampleBatch(
        keys,
        np.tile(np.arange(series, dtype=np.int32), points),
        np.repeat(T0 + np.arange(points, dtype=np.int64) * 10 * S, series),
        rng.uniform(0, 1e9, series * points),
    )


def sqlite_with(batch: SampleBatch, path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE series (id INTEGER PRIMARY KEY, device TEXT, port TEXT)")
    db.execute("CREATE TABLE samples (series INTEGER, ts INTEGER, value REAL)")
    db.executemany(
        "INSERT INTO series VALUES (?, ?, ?)",
        ((i, k.tag_dict()["device"], k.tag_dict()["port"]) for i, k in enumerate(batch.keys)),
    )
    db.executemany(
        "INSERT INTO samples VALUES (?, ?, ?)",
        zip(
            batch.key_index.tolist(), batch.timestamps.tolist(), batch.values.tolist(), strict=True
        ),
    )
    db.execute("CREATE INDEX by_series ON samples (series, ts)")
    db.execute("CREATE INDEX by_tags ON series (device, port)")
    db.commit()
    return db


ONE_SERIES_SQL = (
    "SELECT (ts - ?) / ? AS b, avg(value) FROM samples "
    "JOIN series ON samples.series = series.id "
    "WHERE series.device = ? AND series.port = ? AND ts >= ? AND ts < ? GROUP BY b ORDER BY b"
)
GROUP_SQL = (
    "SELECT series.device, (ts - ?) / ? AS b, avg(value) FROM samples "
    "JOIN series ON samples.series = series.id "
    "WHERE ts >= ? AND ts < ? GROUP BY series.device, b ORDER BY series.device, b"
)


def latencies(run: Callable[[int], object], times: int) -> np.ndarray:
    spent = []
    for i in range(times):
        started = time.perf_counter()
        run(i)
        spent.append(time.perf_counter() - started)
    return np.array(spent) * 1000


def queries(sizes: Sizes, workdir: Path) -> None:
    batch = query_data(sizes.query_series)
    db = sqlite_with(batch, workdir / "query.db")
    tsdb = EmbeddedTSDB(None, POLICY, clock=lambda: T0)
    tsdb.write(batch)
    start, end, step = T0, T0 + HOUR_NS, 60 * S
    picks = random.Random(2).choices(batch.keys, k=sizes.one_series_queries)

    def sqlite_one(i: int) -> object:
        tags = picks[i].tag_dict()
        args = (start, step, tags["device"], tags["port"], start, end)
        return db.execute(ONE_SERIES_SQL, args).fetchall()

    def netweave_one(i: int) -> object:
        match = [TagMatcher(key=k, value=v) for k, v in picks[i].tags]
        return tsdb.query(
            Query(metric="if.rx", start_ns=start, end_ns=end, step_ns=step, match=match)
        )

    def sqlite_group(_: int) -> object:
        return db.execute(GROUP_SQL, (start, step, start, end)).fetchall()

    def netweave_group(_: int) -> object:
        query = Query(metric="if.rx", start_ns=start, end_ns=end, step_ns=step, group_by=["device"])
        return tsdb.query(query)

    netweave_one(0)  # the first query merges the written samples into sorted columns
    cases = (
        (
            "one series, mean per 1 min over 1 h",
            sqlite_one,
            netweave_one,
            sizes.one_series_queries,
            sizes.one_series_queries,
        ),
        (
            f"mean per device per 1 min over 1 h of {sizes.query_series:,} series",
            sqlite_group,
            netweave_group,
            sizes.baseline_group_queries,
            sizes.group_queries,
        ),
    )
    for name, theirs, ours, their_times, our_times in cases:
        base_ms, our_ms = latencies(theirs, their_times), latencies(ours, our_times)
        for q in (50, 99):
            base = report(f"query {name}, SQLite p{q}", float(np.percentile(base_ms, q)), "ms")
            mine = report(
                f"query {name}, netweave p{q}", float(np.percentile(our_ms, q)), "ms", base
            )
            print(f"query {name}: netweave {base / mine:,.1f}x faster at p{q}", flush=True)
    db.close()


def main() -> None:
    args = parser(__doc__.split("\n")[0]).parse_args()
    sizes = QUICK if args.quick else FULL
    texts = bodies(sizes)
    print(
        f"# {sizes.tag_sets:,} tag sets x {sizes.points} points x {FIELDS_PER_LINE} fields, "
        f"{len(texts)} bodies of {LINES_PER_BODY:,} lines",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as work:
        ingest(sizes, texts, Path(work))
        queries(sizes, Path(work))


if __name__ == "__main__":
    main()
