"""Series identity and batches of samples in columns.

A series is a metric name plus a sorted set of tags (FLAME CLMC style: ``sfc``, ``sf``,
``endpoint``, ``server``, ``location``, ``device``, ``port``, ``link``, ``service`` …).
A line-protocol point ``m,t=v f1=1,f2=2`` makes one series per field, named ``m.f1`` and
``m.f2``: every series holds one float per timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

Int32Array = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

Tags = tuple[tuple[str, str], ...]
"""Tags as (key, value) pairs sorted by key, keys unique."""


class SeriesKey(NamedTuple):
    """What identifies a series: metric name and sorted tags."""

    metric: str
    tags: Tags

    def tag_dict(self) -> dict[str, str]:
        return dict(self.tags)


def series_key(metric: str, tags: Mapping[str, str] | None = None) -> SeriesKey:
    """A `SeriesKey` from a metric name and a tag mapping; empty names or values are refused."""
    if not metric:
        raise ValueError("metric: must not be empty")
    pairs = tuple(sorted((tags or {}).items()))
    for key, value in pairs:
        if not key or not value:
            raise ValueError(f"tags: {key!r}={value!r} needs a non-empty key and value")
    return SeriesKey(metric, pairs)


@dataclass(frozen=True)
class SampleBatch:
    """Samples in columns: sample i belongs to series ``keys[key_index[i]]``, was taken at
    ``timestamps[i]`` (ns since the Unix epoch) and has value ``values[i]``."""

    keys: list[SeriesKey]
    key_index: Int32Array
    timestamps: Int64Array
    values: FloatArray

    def __post_init__(self) -> None:
        size = len(self.key_index)
        if len(self.timestamps) != size or len(self.values) != size:
            raise ValueError("key_index, timestamps and values must have one entry per sample")

    def __len__(self) -> int:
        return len(self.key_index)

    @classmethod
    def of(cls, samples: Iterable[tuple[SeriesKey, int, float]]) -> SampleBatch:
        """A batch from (series, timestamp ns, value) triples (convenient, not fast)."""
        index: dict[SeriesKey, int] = {}
        positions: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        for key, stamp, value in samples:
            positions.append(index.setdefault(key, len(index)))
            stamps.append(stamp)
            values.append(value)
        return cls(
            list(index),
            np.array(positions, dtype=np.int32),
            np.array(stamps, dtype=np.int64),
            np.array(values, dtype=np.float64),
        )
