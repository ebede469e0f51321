"""The embedded time-series store: aggregations against numpy oracles, rate, partitions,
downsampling, retention, and persistence across restarts (clean and killed)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from netweave.assurance import (
    CorruptDataError,
    EmbeddedTSDB,
    Query,
    RetentionPolicy,
    SampleBatch,
    SeriesKey,
    TagMatcher,
    series_key,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S  # a multiple of 10 s: partitions of 10 s start here
POLICY = RetentionPolicy(
    partition_ns=10 * S, downsample_after_ns=None, resolution_ns=S, retention_ns=None
)


def tsdb(data_dir: Path | None = None, policy: RetentionPolicy = POLICY) -> EmbeddedTSDB:
    return EmbeddedTSDB(data_dir, policy, clock=lambda: T0)


def key(device: str, port: str, metric: str = "if.rx") -> SeriesKey:
    return series_key(metric, {"device": device, "port": port})


def random_samples(seed: int = 7) -> list[tuple[SeriesKey, int, float]]:
    """6 series on 2 devices, 40 s of samples at random times (4 partitions)."""
    rng = np.random.default_rng(seed)
    samples = []
    for device in ("s1", "s2"):
        for port in ("p1", "p2", "p3"):
            stamps = np.unique(rng.integers(T0, T0 + 40 * S, 60))
            samples += [(key(device, port), int(t), float(rng.normal(100, 30))) for t in stamps]
    return samples


def oracle(
    samples: list[tuple[SeriesKey, int, float]],
    group: Callable[[SeriesKey], tuple[str, ...]],
    reduce: Callable[[np.ndarray], float],
    start: int,
    end: int,
    step: int,
) -> dict[tuple[str, ...], dict[int, float]]:
    buckets: dict[tuple[str, ...], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for series, stamp, value in samples:
        if start <= stamp < end:
            buckets[group(series)][start + (stamp - start) // step * step].append(value)
    return {g: {b: reduce(np.array(v)) for b, v in per.items()} for g, per in buckets.items()}


def answer(
    db: EmbeddedTSDB, query: Query, by: list[str] | None
) -> dict[tuple[str, ...], dict[int, float]]:
    result = db.query(query)
    out = {}
    for series in result.series:
        name = tuple(series.tags.get(k, "") for k in (by if by is not None else ["device", "port"]))
        out[name] = dict(zip(series.timestamps_ns, series.values, strict=True))
    return out


REDUCERS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda v: float(np.mean(v)),
    "min": lambda v: float(np.min(v)),
    "max": lambda v: float(np.max(v)),
    "sum": lambda v: float(np.sum(v)),
    "count": lambda v: float(len(v)),
    "p95": lambda v: float(np.percentile(v, 95)),
    "p50": lambda v: float(np.percentile(v, 50)),
    "p100": lambda v: float(np.percentile(v, 100)),
}


@pytest.mark.parametrize("aggregation", sorted(REDUCERS))
@pytest.mark.parametrize("by", [None, ["device"], []])
def test_aggregations_match_numpy(aggregation: str, by: list[str] | None) -> None:
    samples = random_samples()
    db = tsdb()
    db.write(SampleBatch.of(samples))
    start, end, step = T0 + 3 * S, T0 + 37 * S, 7 * S
    query = Query(
        metric="if.rx",
        start_ns=start,
        end_ns=end,
        step_ns=step,
        aggregation=aggregation,
        group_by=by,
    )
    fields = by if by is not None else ["device", "port"]
    expected = oracle(
        samples,
        lambda k: tuple(k.tag_dict()[f] for f in fields),
        REDUCERS[aggregation],
        start,
        end,
        step,
    )
    got = answer(db, query, by)
    assert got.keys() == expected.keys()
    for name, buckets in expected.items():
        assert got[name].keys() == buckets.keys()
        assert list(got[name].values()) == pytest.approx(list(buckets.values()), rel=1e-9)


def test_matchers_select_series() -> None:
    db = tsdb()
    db.write(SampleBatch.of(random_samples()))

    def tags(*matchers: TagMatcher) -> list[dict[str, str]]:
        query = Query(
            metric="if.rx",
            start_ns=T0,
            end_ns=T0 + 40 * S,
            step_ns=40 * S,
            aggregation="count",
            match=list(matchers),
        )
        return [series.tags for series in db.query(query).series]

    assert tags(TagMatcher(key="device", value="s2"), TagMatcher(key="port", value="p1")) == [
        {"device": "s2", "port": "p1"}
    ]
    assert [t["port"] for t in tags(TagMatcher(key="port", value="p[12]", regex=True))] == [
        "p1",
        "p2",
        "p1",
        "p2",
    ]
    assert tags(TagMatcher(key="port", value="p", regex=True)) == []  # full match only
    assert tags(TagMatcher(key="nope", value="x")) == []
    missing = Query(metric="nope", start_ns=T0, end_ns=T0 + S, step_ns=S)
    assert db.query(missing).series == []


def counter(values: list[float], every: int = S) -> SampleBatch:
    series = key("s1", "p1", "if.rx_bytes")
    return SampleBatch.of((series, T0 + i * every, v) for i, v in enumerate(values))


def test_rate_is_per_second_and_survives_a_counter_reset() -> None:
    db = tsdb()
    # 0..3 s: +10/s; reset at 4 s (to 5: counted as +5); then +10/s again.
    db.write(counter([0, 10, 20, 30, 5, 15, 25, 35]))
    query = Query(
        metric="if.rx_bytes", start_ns=T0, end_ns=T0 + 8 * S, step_ns=4 * S, aggregation="rate"
    )
    (series,) = db.query(query).series
    assert series.timestamps_ns == [T0, T0 + 4 * S]
    assert series.values == pytest.approx([10.0, (5 + 10 + 10 + 10) / 4])


def test_rate_of_a_group_sums_its_series() -> None:
    db = tsdb()
    db.write(
        SampleBatch.of(
            (key("s1", p, "c"), T0 + i * S, i * rate)
            for p, rate in (("a", 2.0), ("b", 3.0))
            for i in range(5)
        )
    )
    query = Query(
        metric="c",
        start_ns=T0,
        end_ns=T0 + 5 * S,
        step_ns=5 * S,
        aggregation="rate",
        group_by=["device"],
    )
    (series,) = db.query(query).series
    assert series.tags == {"device": "s1"}
    assert series.values == pytest.approx([5.0])


def test_rewriting_a_timestamp_replaces_the_sample_and_order_does_not_matter() -> None:
    db = tsdb()
    series = key("s1", "p1")
    db.write(SampleBatch.of([(series, T0 + 5 * S, 50.0), (series, T0 + 6 * S, 60.0)]))
    db.write(SampleBatch.of([(series, T0 + 2 * S, 20.0), (series, T0 + 5 * S, 55.0)]))
    db.write(SampleBatch.of([(series, T0 + 1 * S, 10.0), (series, T0 + 1 * S, 11.0)]))
    query = Query(metric="if.rx", start_ns=T0, end_ns=T0 + 10 * S, step_ns=S, aggregation="sum")
    (result,) = db.query(query).series
    assert dict(zip(result.timestamps_ns, result.values, strict=True)) == {
        T0 + S: 11.0,
        T0 + 2 * S: 20.0,
        T0 + 5 * S: 55.0,
        T0 + 6 * S: 60.0,
    }
    assert db.latest() == [(series, T0 + 6 * S, 60.0)]


def test_latest_is_the_newest_sample_even_when_written_late() -> None:
    db = tsdb()
    a, b = key("s1", "p1"), key("s1", "p2")
    db.write(SampleBatch.of([(a, T0 + 9 * S, 9.0), (b, T0, 1.0)]))
    db.write(SampleBatch.of([(a, T0 + 3 * S, 3.0), (b, T0 + 30 * S, 4.0)]))
    assert db.latest("if.rx", [TagMatcher(key="port", value="p1")]) == [(a, T0 + 9 * S, 9.0)]
    assert sorted(db.latest()) == [(a, T0 + 9 * S, 9.0), (b, T0 + 30 * S, 4.0)]
    assert db.stats().partitions == 2
    assert db.stats().samples_written == 4


def test_downsampled_partitions_keep_mean_min_max_count_sum_and_rate() -> None:
    policy = RetentionPolicy(
        partition_ns=10 * S, downsample_after_ns=5 * S, resolution_ns=2 * S, retention_ns=None
    )
    db = tsdb(policy=policy)
    samples = random_samples(3)
    db.write(SampleBatch.of(samples))
    db.write(counter([i * 7.0 for i in range(40)]))
    queries = [
        Query(
            metric="if.rx",
            start_ns=T0,
            end_ns=T0 + 40 * S,
            step_ns=4 * S,
            aggregation=agg,
            group_by=by,
        )
        for agg in ("mean", "min", "max", "count", "sum")
        for by in (None, ["device"])
    ]
    rate = Query(
        metric="if.rx_bytes", start_ns=T0, end_ns=T0 + 40 * S, step_ns=10 * S, aggregation="rate"
    )
    before = [db.query(q) for q in queries]
    report = db.maintain(now_ns=T0 + 40 * S)
    assert report.downsampled == 3  # the partitions that ended by 35 s
    after = [db.query(q) for q in queries]
    for old, new in zip(before, after, strict=True):
        assert [s.tags for s in new.series] == [s.tags for s in old.series]
        for o, n in zip(old.series, new.series, strict=True):
            assert n.timestamps_ns == o.timestamps_ns
            assert n.values == pytest.approx(o.values)
    assert db.query(rate).series[0].values == pytest.approx([7.0] * 4)
    assert db.maintain(now_ns=T0 + 40 * S).downsampled == 0


def test_late_samples_fold_into_a_downsampled_partition() -> None:
    policy = RetentionPolicy(
        partition_ns=10 * S, downsample_after_ns=0, resolution_ns=5 * S, retention_ns=None
    )
    db = tsdb(policy=policy)
    series = key("s1", "p1")
    db.write(SampleBatch.of([(series, T0 + S, 1.0), (series, T0 + 2 * S, 3.0)]))
    db.maintain(now_ns=T0 + 10 * S)
    db.write(SampleBatch.of([(series, T0 + 3 * S, 8.0)]))
    query = Query(
        metric="if.rx", start_ns=T0, end_ns=T0 + 10 * S, step_ns=5 * S, aggregation="mean"
    )
    assert db.query(query).series[0].values == [4.0]
    assert db.query(query.model_copy(update={"aggregation": "max"})).series[0].values == [8.0]


def test_retention_drops_old_partitions_and_refuses_older_samples() -> None:
    policy = RetentionPolicy(
        partition_ns=10 * S, downsample_after_ns=None, resolution_ns=S, retention_ns=20 * S
    )
    clock = [T0]
    db = EmbeddedTSDB(None, policy, clock=lambda: clock[0])
    db.write(SampleBatch.of(random_samples()))
    assert db.stats().partitions == 4
    clock[0] = T0 + 50 * S
    assert db.maintain().dropped == 3  # those that ended 20 s or more ago
    assert db.stats().partitions == 1
    report = db.write(
        SampleBatch.of([(key("s1", "p1"), T0 + 29 * S, 1.0), (key("s1", "p1"), T0 + 31 * S, 2.0)])
    )
    assert (report.samples, report.dropped_too_old) == (1, 1)


def test_close_and_reopen_keeps_everything(tmp_path: Path) -> None:
    db = tsdb(tmp_path)
    db.write(SampleBatch.of(random_samples()))
    queries = [
        Query(metric="if.rx", start_ns=T0, end_ns=T0 + 40 * S, step_ns=3 * S, aggregation=agg)
        for agg in ("mean", "p95", "count")
    ]
    before = [db.query(q) for q in queries]
    db.close()
    assert list((tmp_path / "wal").iterdir()) == []
    again = tsdb(tmp_path)
    assert [again.query(q) for q in queries] == before
    assert again.latest() == db.latest()


def test_a_killed_process_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tsdb(tmp_path)
    db.write(SampleBatch.of(random_samples()[:100]))
    db.maintain(now_ns=T0 + 20 * S)  # snapshots the partitions that ended by 20 s
    db.write(SampleBatch.of(random_samples()[100:]))
    db.write(SampleBatch.of([(key("s9", "p9"), T0 + 5 * S, 1.0)]))  # late, into a snapshot
    query = Query(metric="if.rx", start_ns=T0, end_ns=T0 + 40 * S, step_ns=S, aggregation="sum")
    before = db.query(query)
    # no close(): the process "dies"; a torn record at the end of a log is ignored
    with (tmp_path / "wal" / f"{T0 + 30 * S}.wal").open("ab") as log:
        log.write(b"\x05\x00\x00\x00garbage")
    again = tsdb(tmp_path)
    assert again.query(query) == before
    assert again.stats().series == 7


def test_downsampled_partitions_persist(tmp_path: Path) -> None:
    policy = RetentionPolicy(
        partition_ns=10 * S, downsample_after_ns=0, resolution_ns=5 * S, retention_ns=None
    )
    db = tsdb(tmp_path, policy)
    db.write(SampleBatch.of(random_samples()))
    db.maintain(now_ns=T0 + 40 * S)
    query = Query(
        metric="if.rx", start_ns=T0, end_ns=T0 + 40 * S, step_ns=10 * S, aggregation="max"
    )
    before = db.query(query)
    assert tsdb(tmp_path, policy).query(query) == before


def test_bad_queries_name_the_field() -> None:
    def problem(**fields: object) -> str:
        values = {"metric": "m", "start_ns": T0, "end_ns": T0 + S, "step_ns": S} | fields
        with pytest.raises(ValidationError) as caught:
            Query.model_validate(values)
        return str(caught.value)

    assert "end_ns: must be after start_ns" in problem(end_ns=T0)
    assert "'p0' is not one of mean" in problem(aggregation="p0")
    assert "'median' is not one of mean" in problem(aggregation="median")
    assert "step_ns: more than 11000 buckets" in problem(step_ns=1)
    assert "step_ns" in problem(step_ns=0)
    with pytest.raises(ValidationError, match="value: '\\(' is not a valid regex"):
        TagMatcher(key="k", value="(", regex=True)


def test_bad_policy_and_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="resolution_ns: must be positive and divide"):
        RetentionPolicy(partition_ns=10 * S, resolution_ns=3 * S)
    with pytest.raises(ValueError, match="retention_ns: must not be negative"):
        RetentionPolicy(retention_ns=-1)
    with pytest.raises(ValueError, match="metric: must not be empty"):
        series_key("")
    with pytest.raises(ValueError, match="tags: 'a'=''"):
        series_key("m", {"a": ""})


def test_writes_in_any_order_and_batching_give_the_same_answers() -> None:
    samples = random_samples(11)
    queries = [
        Query(metric="if.rx", start_ns=T0, end_ns=T0 + 40 * S, step_ns=S, aggregation=agg)
        for agg in ("sum", "rate")
    ]
    whole = tsdb()
    whole.write(SampleBatch.of(samples))
    expected = [whole.query(q) for q in queries]
    in_time_order = np.argsort([t for _, t, _ in samples], kind="stable")
    shuffled = np.random.default_rng(5).permutation(len(samples))
    for order in (in_time_order, shuffled):
        for read_between in (False, True):
            db = tsdb()
            for chunk in np.array_split(order, 9):
                db.write(SampleBatch.of(samples[i] for i in chunk))
                if read_between:  # merges each chunk: the recent run, or late samples
                    db.query(queries[0])
            assert [db.query(q) for q in queries] == expected


def test_a_data_dir_refuses_another_partition_length(tmp_path: Path) -> None:
    db = tsdb(tmp_path)
    db.write(SampleBatch.of(random_samples()))
    db.close()
    other = RetentionPolicy(
        partition_ns=20 * S, downsample_after_ns=None, resolution_ns=S, retention_ns=None
    )
    with pytest.raises(CorruptDataError, match="partition_ns=20000000000 cannot read them"):
        tsdb(tmp_path, other)


def test_concurrent_writers_and_readers_see_consistent_data(tmp_path: Path) -> None:
    db = tsdb(tmp_path)
    count = Query(
        metric="if.rx",
        start_ns=T0,
        end_ns=T0 + 40 * S,
        step_ns=40 * S,
        aggregation="count",
        group_by=[],
    )
    seen: list[list[float]] = [[], []]

    def writer(device: str) -> None:
        for second in range(40):
            db.write(SampleBatch.of([(key(device, "p1"), T0 + second * S, 1.0)]))

    def reader(observed: list[float]) -> None:
        for _ in range(40):
            observed.extend(s.values[0] for s in db.query(count).series)

    threads = [threading.Thread(target=writer, args=(f"s{i}",)) for i in range(4)]
    threads += [threading.Thread(target=reader, args=(observed,)) for observed in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for observed in seen:  # each reader sees the count grow, never a torn write
        assert observed == sorted(observed)
        assert all(0 < n <= 160 for n in observed)
    assert db.query(count).series[0].values == [160.0]
    db.close()
    assert tsdb(tmp_path).query(count).series[0].values == [160.0]
