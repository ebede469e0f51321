"""Bucketed aggregation of query rows, in bulk with numpy.

Every row carries a group code and a bucket index; ``group * buckets + bucket`` is its
slot. Slots are dense when there are few, otherwise the distinct slots in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from netweave.assurance.partition import Rows
from netweave.assurance.query import Query, percentile_of
from netweave.assurance.series import FloatArray, Int32Array, Int64Array

_NS_PER_S = 1e9


@dataclass(frozen=True)
class Buckets:
    """Aggregated values: slot i is group ``slots[i] // buckets`` at bucket
    ``slots[i] % buckets``; slots are ascending."""

    slots: Int64Array
    values: FloatArray


def aggregate(parts: Sequence[Rows], group_of_sid: Int32Array, query: Query) -> Buckets:
    """Aggregate `parts` per group (`group_of_sid[sid]`) and bucket of `query`. The parts
    come oldest first: each series' samples appear in time order across them."""
    sid = _join([rows.sid for rows in parts], np.int32)
    if query.aggregation == "rate":
        return _rate(parts, sid, group_of_sid, query)
    ts = _join([rows.ts for rows in parts], np.int64)
    bucket = (ts - query.start_ns) // query.step_ns
    slot_of_row = group_of_sid[sid].astype(np.int64) * query.buckets + bucket
    slots, index = _slots(slot_of_row, int(group_of_sid.max(initial=0) + 1) * query.buckets)
    if any(rows.rollup for rows in parts):
        count = _sums(index, _column(parts, "count"), len(slots))
    else:
        count = np.bincount(index, minlength=len(slots)).astype(np.float64)
    present = count > 0
    agg = query.aggregation
    if agg == "count":
        values = count
    elif agg in ("sum", "mean"):
        total = _sums(index, _column(parts, "total"), len(slots))
        values = total if agg == "sum" else total / np.where(present, count, 1.0)
    elif agg in ("min", "max"):
        values = np.full(len(slots), np.inf if agg == "min" else -np.inf)
        extreme = np.minimum if agg == "min" else np.maximum
        extreme.at(values, index, _column(parts, "low" if agg == "min" else "high"))
    else:
        percent = percentile_of(agg)
        assert percent is not None
        values = _percentiles(index, _column(parts, "mean"), percent, len(slots))
    return Buckets(slots[present], values[present])


def _join(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)


def _column(parts: Sequence[Rows], kind: str) -> FloatArray:
    return _join([rows.column(kind) for rows in parts], np.float64)


def _sums(index: Int64Array, weights: FloatArray, size: int) -> FloatArray:
    """Per slot, the sum of the weights of its rows."""
    sums: FloatArray = np.bincount(index, weights=weights, minlength=size).astype(np.float64)
    return sums


def _slots(slot_of_row: Int64Array, size: int) -> tuple[Int64Array, Int64Array]:
    """(slots, index of each row's slot among them): all `size` slots when that is
    small, else only those in use."""
    if size <= max(4 * len(slot_of_row), 1 << 16):
        return np.arange(size, dtype=np.int64), slot_of_row
    slots, index = np.unique(slot_of_row, return_inverse=True)
    return slots, index


def _percentiles(index: Int64Array, values: FloatArray, percent: float, size: int) -> FloatArray:
    """Per slot, the `percent` percentile of its values (linear interpolation, as
    numpy's default method)."""
    result = np.zeros(size)
    if len(values) == 0:
        return result
    order = np.lexsort((values, index))
    slot, ordered = index[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], slot[1:] != slot[:-1])))
    lengths = np.diff(np.concatenate((starts, [len(slot)])))
    position = (lengths - 1) * (percent / 100.0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, lengths - 1)
    below, above = ordered[starts + low], ordered[starts + high]
    result[slot[starts]] = below + (above - below) * (position - low)
    return result


def _rate(
    parts: Sequence[Rows], sid: Int32Array, group_of_sid: Int32Array, query: Query
) -> Buckets:
    """Per series and bucket: the counter's increase over consecutive sample pairs whose
    later sample is in the bucket, divided by those pairs' duration (a drop in value is
    a counter reset: the increase is the new value). Summed per group."""
    buckets = query.buckets
    counter = _column(parts, "last")
    ts = _join([rows.last_stamps() for rows in parts], np.int64)
    bucket = (ts - query.start_ns) // query.step_ns
    order = np.argsort(sid, kind="stable")
    sid, ts, bucket, counter = sid[order], ts[order], bucket[order], counter[order]
    pair = sid[1:] == sid[:-1]
    delta = counter[1:] - counter[:-1]
    increase = np.where(delta >= 0, delta, counter[1:])[pair]
    duration = (ts[1:] - ts[:-1])[pair].astype(np.float64)
    series_slot = sid[1:][pair].astype(np.int64) * buckets + bucket[1:][pair]
    series_slots, index = np.unique(series_slot, return_inverse=True)
    increase_sum = _sums(index, increase, len(series_slots))
    duration_sum = _sums(index, duration, len(series_slots))
    per_series = increase_sum / np.where(duration_sum > 0, duration_sum, 1.0) * _NS_PER_S
    group_slot = (
        group_of_sid[series_slots // buckets].astype(np.int64) * buckets + series_slots % buckets
    )
    slots, group_index = np.unique(group_slot, return_inverse=True)
    return Buckets(slots, _sums(group_index, per_series, len(slots)))
