"""The time-series store interface and its embedded implementation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from netweave.assurance.aggregate import aggregate
from netweave.assurance.catalogue import Catalogue
from netweave.assurance.partition import Partition
from netweave.assurance.query import (
    MaintenanceReport,
    Query,
    QueryResult,
    ResultSeries,
    TagMatcher,
    WriteReport,
)
from netweave.assurance.series import FloatArray, Int32Array, Int64Array, SampleBatch, SeriesKey
from netweave.assurance.storage import CorruptDataError, Storage

HOUR_NS = 3_600_000_000_000
MINUTE_NS = 60_000_000_000


@dataclass(frozen=True)
class RetentionPolicy:
    """Raw samples are kept in partitions of `partition_ns`; a partition that ended more
    than `downsample_after_ns` ago is reduced to count/sum/min/max/last per series and
    `resolution_ns`; one that ended more than `retention_ns` ago is dropped (None: never)."""

    partition_ns: int = HOUR_NS
    downsample_after_ns: int | None = 24 * HOUR_NS
    resolution_ns: int = MINUTE_NS
    retention_ns: int | None = 7 * 24 * HOUR_NS

    def __post_init__(self) -> None:
        if self.partition_ns <= 0:
            raise ValueError("partition_ns: must be positive")
        if self.resolution_ns <= 0 or self.partition_ns % self.resolution_ns:
            raise ValueError("resolution_ns: must be positive and divide partition_ns")
        for name in ("downsample_after_ns", "retention_ns"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name}: must not be negative")


@dataclass(frozen=True)
class StoreStats:
    series: int
    samples_written: int
    partitions: int


class TimeSeriesStore(Protocol):
    """Where KPIs and external measurements go: batches in, aggregated buckets out."""

    def write(self, batch: SampleBatch) -> WriteReport: ...

    def query(self, query: Query) -> QueryResult: ...

    def latest(
        self, metric: str | None = None, match: Sequence[TagMatcher] = ()
    ) -> list[tuple[SeriesKey, int, float]]:
        """Each series' (key, timestamp ns, value) of its newest sample, for series of
        `metric` (None: all) passing `match`; series without samples are left out."""
        ...

    def maintain(self, now_ns: int | None = None) -> MaintenanceReport:
        """Apply the retention policy and snapshot what changed; call it periodically."""
        ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None: ...


class EmbeddedTSDB:
    """A `TimeSeriesStore` in this process: partitions of numpy columns in memory,
    persisted under `data_dir` (None: memory only). Nothing acknowledged is lost when the
    process stops or is killed (write-ahead log + snapshots, see `storage`). Thread-safe
    (one lock)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        policy: RetentionPolicy | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.policy = policy or RetentionPolicy()
        self._clock = clock
        self._lock = threading.RLock()
        self._catalogue = Catalogue()
        self._partitions: dict[int, Partition] = {}
        self._last_ts: Int64Array = np.empty(0, dtype=np.int64)
        self._last_value: FloatArray = np.empty(0, dtype=np.float64)
        self._written = 0
        self._storage = Storage(data_dir) if data_dir is not None else None
        if self._storage is not None:
            self._load(self._storage)

    def _load(self, storage: Storage) -> None:
        for key in storage.load_series():
            self._catalogue.add(key)
        self._grow_latest()
        for partition in storage.load_partitions():
            if partition.length_ns != self.policy.partition_ns:
                raise CorruptDataError(
                    f"{storage.directory}: partitions of {partition.length_ns} ns were written "
                    f"there; partition_ns={self.policy.partition_ns} cannot read them"
                )
            self._partitions[partition.start_ns] = partition
            self._note_latest(partition)
        for start_ns, sid, ts, value in storage.replay():
            self._partition(start_ns).append(sid, ts, value)
            self._update_latest(sid, ts, value)

    def write(self, batch: SampleBatch) -> WriteReport:
        with self._lock:
            ids, new_keys = self._catalogue.ids(batch.keys)
            if new_keys:
                if self._storage is not None:
                    self._storage.append_series(new_keys)
                self._grow_latest()
            sid = ids[batch.key_index] if len(ids) else batch.key_index
            ts, value = batch.timestamps, batch.values
            length = self.policy.partition_ns
            starts = ts - ts % length
            dropped = 0
            if self.policy.retention_ns is not None:
                keep = starts + length > self._clock() - self.policy.retention_ns
                if not keep.all():
                    dropped = int((~keep).sum())
                    sid, ts, value, starts = sid[keep], ts[keep], value[keep], starts[keep]
            for start_ns, rows in _by_partition(starts):
                chunk = (sid[rows], ts[rows], value[rows]) if rows is not None else (sid, ts, value)
                if self._storage is not None:
                    self._storage.log(start_ns, *chunk)
                self._partition(start_ns).append(*chunk)
            self._update_latest(sid, ts, value)
            self._written += len(sid)
            return WriteReport(samples=len(sid), new_series=len(new_keys), dropped_too_old=dropped)

    def query(self, query: Query) -> QueryResult:
        with self._lock:
            wanted = self._catalogue.select(query.metric, query.match)
            codes, group_tags = self._catalogue.group_codes(query.metric, wanted, query.group_by)
            group_of_sid = np.full(len(self._catalogue), -1, dtype=np.int32)
            group_of_sid[wanted] = codes
            selected = group_of_sid >= 0
            parts = [
                rows
                for _, partition in sorted(self._partitions.items())
                if partition.start_ns < query.end_ns and partition.end_ns > query.start_ns
                for rows in partition.rows(wanted, selected, query.start_ns, query.end_ns)
            ]
            buckets = aggregate(parts, group_of_sid, query) if len(wanted) else None
        series = []
        if buckets is not None and len(buckets.slots):
            group = buckets.slots // query.buckets
            stamps = query.start_ns + (buckets.slots % query.buckets) * query.step_ns
            cuts = np.flatnonzero(group[1:] != group[:-1]) + 1
            for rows in np.split(np.arange(len(group)), cuts):
                series.append(
                    ResultSeries(
                        tags=group_tags[int(group[rows[0]])],
                        timestamps_ns=stamps[rows].tolist(),
                        values=buckets.values[rows].tolist(),
                    )
                )
        return QueryResult.of(query, series)

    def latest(
        self, metric: str | None = None, match: Sequence[TagMatcher] = ()
    ) -> list[tuple[SeriesKey, int, float]]:
        with self._lock:
            if metric is None:
                ids: Int32Array = np.arange(len(self._catalogue), dtype=np.int32)
            else:
                ids = self._catalogue.select(metric, match)
            ids = ids[self._last_ts[ids] != _NEVER]
            keys = self._catalogue.keys
            return list(
                zip(
                    [keys[sid] for sid in ids.tolist()],
                    self._last_ts[ids].tolist(),
                    self._last_value[ids].tolist(),
                    strict=True,
                )
            )

    def maintain(self, now_ns: int | None = None) -> MaintenanceReport:
        now = self._clock() if now_ns is None else now_ns
        policy = self.policy
        report = MaintenanceReport()
        with self._lock:
            for start_ns, partition in sorted(self._partitions.items()):
                age = now - partition.end_ns
                if policy.retention_ns is not None and age >= policy.retention_ns:
                    del self._partitions[start_ns]
                    if self._storage is not None:
                        self._storage.delete(start_ns)
                    report.dropped += 1
                    continue
                after = policy.downsample_after_ns
                if not partition.rollup and after is not None and age >= after:
                    partition = self._partitions[start_ns] = partition.downsampled(
                        policy.resolution_ns
                    )
                    report.downsampled += 1
                if self._storage is not None and partition.dirty and age >= 0:
                    self._storage.save(partition)
                    report.snapshotted += 1
        return report

    def stats(self) -> StoreStats:
        with self._lock:
            return StoreStats(len(self._catalogue), self._written, len(self._partitions))

    def close(self) -> None:
        """Snapshot every changed partition (the open one too) so that the next start
        replays no log."""
        with self._lock:
            if self._storage is None:
                return
            for partition in self._partitions.values():
                if partition.dirty:
                    self._storage.save(partition)

    def _partition(self, start_ns: int) -> Partition:
        partition = self._partitions.get(start_ns)
        if partition is None:
            partition = self._partitions[start_ns] = Partition(start_ns, self.policy.partition_ns)
        return partition

    def _grow_latest(self) -> None:
        missing = len(self._catalogue) - len(self._last_ts)
        if missing > 0:
            grow = max(missing, len(self._last_ts))
            self._last_ts = np.concatenate((self._last_ts, np.full(grow, _NEVER, dtype=np.int64)))
            self._last_value = np.concatenate((self._last_value, np.zeros(grow)))

    def _update_latest(self, sid: Int32Array, ts: Int64Array, value: FloatArray) -> None:
        if len(sid) == 0:
            return
        order = np.lexsort((ts, sid))
        sid, ts, value = sid[order], ts[order], value[order]
        last = np.flatnonzero(np.concatenate((sid[1:] != sid[:-1], [True])))
        sid, ts, value = sid[last], ts[last], value[last]
        newer = ts >= self._last_ts[sid]
        self._last_ts[sid[newer]] = ts[newer]
        self._last_value[sid[newer]] = value[newer]

    def _note_latest(self, partition: Partition) -> None:
        columns = partition.columns()
        if partition.rollup:
            self._update_latest(columns["sid"], columns["last_ts"], columns["last"])
        else:
            self._update_latest(columns["sid"], columns["ts"], columns["value"])


_NEVER = np.iinfo(np.int64).min


def _by_partition(starts: Int64Array) -> list[tuple[int, np.ndarray | None]]:
    """(partition start, row indices) per partition the rows fall in; indices None when
    all rows fall in one."""
    if len(starts) == 0:
        return []
    first = int(starts[0])
    if (starts == first).all():
        return [(first, None)]
    distinct, inverse = np.unique(starts, return_inverse=True)
    return [(int(start), np.flatnonzero(inverse == i)) for i, start in enumerate(distinct)]
