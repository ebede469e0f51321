"""Time partitions: the samples of every series over one span of time, in columns sorted
by (series id, timestamp).

A raw partition keeps every sample; writes land in a pending list and are merged into
the sorted columns in bulk (before a read or a snapshot). A rollup partition keeps, per
series and per `resolution_ns` bucket, count, sum, min, max, last value and its time: made by
`Partition.downsampled`, and late raw samples are folded into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netweave.assurance.series import FloatArray, Int32Array, Int64Array

RAW_COLUMNS = ("sid", "ts", "value")
ROLLUP_COLUMNS = ("sid", "ts", "count", "total", "low", "high", "last", "last_ts")
_DTYPES: dict[str, type] = {"sid": np.int32, "ts": np.int64, "last_ts": np.int64}


def _empty(names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {name: np.empty(0, dtype=_DTYPES.get(name, np.float64)) for name in names}


@dataclass(frozen=True)
class Rows:
    """Rows picked for a query from one sorted run of a partition."""

    sid: Int32Array
    ts: Int64Array
    columns: dict[str, np.ndarray]
    rollup: bool

    def column(self, kind: str) -> FloatArray:
        """``count``, ``total``, ``low``, ``high``, ``last`` or ``mean`` of each row; a raw
        row is a bucket of one sample."""
        if not self.rollup:
            if kind == "count":
                return np.ones(len(self.sid), dtype=np.float64)
            values: FloatArray = self.columns["value"]
            return values
        if kind == "mean":
            mean: FloatArray = self.columns["total"] / self.columns["count"]
            return mean
        column: FloatArray = self.columns[kind]
        return column

    def last_stamps(self) -> Int64Array:
        """When each row's ``last`` value was taken."""
        stamps: Int64Array = self.columns["last_ts"] if self.rollup else self.ts
        return stamps


class Partition:
    """The samples with ``start_ns <= timestamp < start_ns + length_ns``.

    A raw partition keeps two sorted runs: the main one, and a recent one holding only
    samples newer than every main sample of their series. A read merges the pending
    writes into the recent run (cheap: it is small), and the recent run into the main
    one once it outgrows an eighth of it, so reading right after a small write does not
    copy the whole partition. Late samples (not newer than what the main run holds for
    their series) are merged into the main run at once.
    """

    def __init__(
        self,
        start_ns: int,
        length_ns: int,
        resolution_ns: int = 0,
        columns: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.start_ns = start_ns
        self.length_ns = length_ns
        self.resolution_ns = resolution_ns
        names = ROLLUP_COLUMNS if resolution_ns else RAW_COLUMNS
        self._columns = columns if columns is not None else _empty(names)
        self._recent = _empty(RAW_COLUMNS)
        self._pending: list[tuple[Int32Array, Int64Array, FloatArray]] = []
        self.dirty = False

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.length_ns

    @property
    def rollup(self) -> bool:
        return self.resolution_ns > 0

    def append(self, sid: Int32Array, ts: Int64Array, value: FloatArray) -> None:
        """Add raw samples (any order); a sample at a (series, timestamp) already held
        replaces it (in a rollup partition it is added to its bucket)."""
        self._pending.append((sid, ts, value))
        self.dirty = True

    def columns(self) -> dict[str, np.ndarray]:
        """All the sorted columns in one run, pending samples merged in."""
        self._absorb()
        if len(self._recent["sid"]):
            self._columns = _merge_raw(self._columns, *_raw(self._recent))
            self._recent = _empty(RAW_COLUMNS)
        return self._columns

    def _absorb(self) -> None:
        if not self._pending:
            return
        sid, ts, value = _sorted_unique(
            np.concatenate([chunk[0] for chunk in self._pending]),
            np.concatenate([chunk[1] for chunk in self._pending]),
            np.concatenate([chunk[2] for chunk in self._pending]),
        )
        self._pending = []
        if self.rollup:
            self._columns = _fold(self._columns, _to_rollup(sid, ts, value, self.resolution_ns))
        elif _any_late(self._columns, sid, ts):
            self._columns = _merge_raw(self.columns(), sid, ts, value)
        else:
            self._recent = _merge_raw(self._recent, sid, ts, value)
            if len(self._recent["sid"]) > max(len(self._columns["sid"]) // 8, 1 << 16):
                self.columns()

    def rows(
        self, wanted: Int32Array, selected: np.ndarray, start_ns: int, end_ns: int
    ) -> list[Rows]:
        """The rows of series `wanted` (sorted ids; `selected[sid]` is True for them) with
        ``start_ns <= ts < end_ns``, one `Rows` per run (older first)."""
        self._absorb()
        runs = [self._columns, self._recent] if len(self._recent["sid"]) else [self._columns]
        all_times = start_ns <= self.start_ns and end_ns >= self.end_ns
        bounds = None if all_times else (start_ns, end_ns)
        return [Rows(*_pick(run, wanted, selected, bounds), self.rollup) for run in runs]

    def downsampled(self, resolution_ns: int) -> Partition:
        """A rollup copy of this raw partition at `resolution_ns`."""
        columns = self.columns()
        rollup = _to_rollup(columns["sid"], columns["ts"], columns["value"], resolution_ns)
        result = Partition(self.start_ns, self.length_ns, resolution_ns, rollup)
        result.dirty = True
        return result


def _pick(
    columns: dict[str, np.ndarray],
    wanted: Int32Array,
    selected: np.ndarray,
    bounds: tuple[int, int] | None,
) -> tuple[Int32Array, Int64Array, dict[str, np.ndarray]]:
    """The rows of `wanted` series (within `bounds`, if any): all rows uncopied when
    that is everything, else gathered through index ranges (few rows) or a mask."""
    sid, ts = columns["sid"], columns["ts"]
    left = np.searchsorted(sid, wanted, side="left")
    right = np.searchsorted(sid, wanted, side="right")
    picked = int((right - left).sum())
    if picked == len(sid) and bounds is None:
        return sid, ts, _values(columns)
    if picked * 4 < len(sid):
        picks = _ranges(left, right)
        if bounds is not None:
            picks = picks[(ts[picks] >= bounds[0]) & (ts[picks] < bounds[1])]
    else:
        keep = selected[sid] if picked < len(sid) else np.ones(len(sid), dtype=bool)
        if bounds is not None:
            keep &= (ts >= bounds[0]) & (ts < bounds[1])
        picks = np.flatnonzero(keep)
    return sid[picks], ts[picks], {name: col[picks] for name, col in _values(columns).items()}


def _raw(columns: dict[str, np.ndarray]) -> tuple[Int32Array, Int64Array, FloatArray]:
    return columns["sid"], columns["ts"], columns["value"]


def _any_late(main: dict[str, np.ndarray], sid: Int32Array, ts: Int64Array) -> bool:
    """Whether any (sid, ts) is not newer than the newest main sample of its series."""
    if len(main["sid"]) == 0:
        return False
    last = np.searchsorted(main["sid"], sid, side="right") - 1
    held = (last >= 0) & (main["sid"][np.maximum(last, 0)] == sid)
    return bool((held & (ts <= main["ts"][np.maximum(last, 0)])).any())


def _values(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: column for name, column in columns.items() if name not in ("sid", "ts")}


def _ranges(left: Int64Array, right: Int64Array) -> Int64Array:
    """Concatenation of ``arange(l, r)`` for each pair."""
    lengths = right - left
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(left - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    result: Int64Array = offsets + np.arange(total)
    return result


def _sorted_unique(
    sid: Int32Array, ts: Int64Array, value: FloatArray
) -> tuple[Int32Array, Int64Array, FloatArray]:
    """Rows sorted by (sid, ts); of rows with equal (sid, ts) the last given is kept."""
    order = np.lexsort((ts, sid))
    sid, ts, value = sid[order], ts[order], value[order]
    last = np.ones(len(sid), dtype=bool)
    last[:-1] = (sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])
    if last.all():
        return sid, ts, value
    return sid[last], ts[last], value[last]


def _merge_raw(
    old: dict[str, np.ndarray], sid: Int32Array, ts: Int64Array, value: FloatArray
) -> dict[str, np.ndarray]:
    """Merge sorted unique new rows into sorted unique old rows. Fast path: each series'
    new samples come after its old ones (positions found by binary search); otherwise
    a full sort."""
    count = len(sid)
    positions = np.searchsorted(old["sid"], sid, side="right") + np.arange(count)
    total = len(old["sid"]) + count
    old_slots = np.ones(total, dtype=bool)
    old_slots[positions] = False
    merged: dict[str, np.ndarray] = {}
    for name, new in (("sid", sid), ("ts", ts), ("value", value)):
        column = np.empty(total, dtype=new.dtype)
        column[old_slots] = old[name]
        column[positions] = new
        merged[name] = column
    before = positions[positions > 0] - 1
    after = before + 1
    in_order = (merged["sid"][before] != merged["sid"][after]) | (
        merged["ts"][before] < merged["ts"][after]
    )
    if in_order.all():
        return merged
    resorted = _sorted_unique(merged["sid"], merged["ts"], merged["value"])
    return dict(zip(RAW_COLUMNS, resorted, strict=True))


def _to_rollup(
    sid: Int32Array, ts: Int64Array, value: FloatArray, resolution_ns: int
) -> dict[str, np.ndarray]:
    """Rows sorted by (sid, ts) reduced to one row per (sid, bucket)."""
    ones = np.ones(len(sid), dtype=np.float64)
    columns = {
        "sid": sid,
        "ts": ts - ts % resolution_ns,
        "count": ones,
        "total": value,
        "low": value,
        "high": value,
        "last": value,
        "last_ts": ts,
    }
    return _reduce(columns)


def _fold(old: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rollup rows of `new` added into `old`."""
    both = {name: np.concatenate((old[name], new[name])) for name in ROLLUP_COLUMNS}
    order = np.lexsort((both["last_ts"], both["ts"], both["sid"]))
    return _reduce({name: column[order] for name, column in both.items()})


def _reduce(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rollup rows sorted by (sid, ts, last_ts) with equal (sid, ts) rows combined."""
    sid, ts = rows["sid"], rows["ts"]
    if len(sid) == 0:
        return _empty(ROLLUP_COLUMNS)
    boundary = np.flatnonzero((sid[1:] != sid[:-1]) | (ts[1:] != ts[:-1])) + 1
    starts = np.concatenate(([0], boundary))
    ends = np.concatenate((boundary, [len(sid)])) - 1
    return {
        "sid": sid[starts],
        "ts": ts[starts],
        "count": np.add.reduceat(rows["count"], starts),
        "total": np.add.reduceat(rows["total"], starts),
        "low": np.minimum.reduceat(rows["low"], starts),
        "high": np.maximum.reduceat(rows["high"], starts),
        "last": rows["last"][ends],
        "last_ts": rows["last_ts"][ends],
    }
