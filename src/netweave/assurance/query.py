"""Queries and their results (pydantic, shared by the Python API and the REST API)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

AGGREGATIONS = ("mean", "max", "min", "sum", "count", "rate")
"""Named aggregations; percentiles are written ``p`` + a number in (0, 100], e.g. ``p95``."""


def percentile_of(aggregation: str) -> float | None:
    """The percentile a ``pNN`` aggregation asks for, None for the named ones;
    `ValueError` naming the choices for anything else."""
    if aggregation in AGGREGATIONS:
        return None
    if aggregation[:1] == "p":
        try:
            value = float(aggregation[1:])
        except ValueError:
            value = -1.0
        if 0 < value <= 100:
            return value
    raise ValueError(
        f"{aggregation!r} is not one of {', '.join(AGGREGATIONS)} or a percentile p0<N<=100"
    )


class TagMatcher(BaseModel):
    """Selects series whose tag `key` equals `value` (or fully matches it as a regex)."""

    key: Annotated[str, Field(min_length=1)]
    value: str
    regex: bool = False

    @model_validator(mode="after")
    def _regex_compiles(self) -> TagMatcher:
        if self.regex:
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"value: {self.value!r} is not a valid regex: {error}") from None
        return self


class Query(BaseModel):
    """Samples of `metric` in [start_ns, end_ns) from the series that pass every matcher,
    aggregated per `step_ns` bucket (buckets start at `start_ns`).

    `group_by`: None keeps each series apart; a list of tag keys merges the series that
    share those tags' values (an empty list merges all). Mean, min, max, sum, count and
    percentiles pool the samples of a group; `rate` (per-second increase of a counter,
    reset-aware) is computed per series and summed over the group. On downsampled
    partitions mean, min, max, sum, count and rate stay exact at the rollup resolution;
    percentiles are taken over the per-resolution means (an approximation).
    """

    metric: Annotated[str, Field(min_length=1)]
    start_ns: int
    end_ns: int
    step_ns: Annotated[int, Field(gt=0)]
    aggregation: str = "mean"
    match: list[TagMatcher] = Field(default_factory=list)
    group_by: list[str] | None = None
    max_buckets: Annotated[int, Field(gt=0)] = 11_000

    @field_validator("aggregation")
    @classmethod
    def _known_aggregation(cls, value: str) -> str:
        percentile_of(value)
        return value

    @model_validator(mode="after")
    def _sane_range(self) -> Query:
        if self.end_ns <= self.start_ns:
            raise ValueError("end_ns: must be after start_ns")
        if (self.end_ns - self.start_ns) // self.step_ns + 1 > self.max_buckets:
            raise ValueError(
                f"step_ns: more than {self.max_buckets} buckets in the range; use a larger step"
            )
        return self

    @property
    def buckets(self) -> int:
        return -(-(self.end_ns - self.start_ns) // self.step_ns)


class ResultSeries(BaseModel):
    """One aggregated series: its tags (all of them, or the `group_by` ones) and the
    non-empty buckets, as bucket start times (ns) and values."""

    tags: dict[str, str]
    timestamps_ns: list[int]
    values: list[float]


class QueryResult(BaseModel):
    """The aggregated series, ordered by their tags."""

    metric: str
    aggregation: str
    step_ns: int
    series: list[ResultSeries]

    @classmethod
    def of(cls, query: Query, series: list[ResultSeries]) -> QueryResult:
        """The answer to `query`: `series` put in order of their tags."""
        ordered = sorted(series, key=lambda result: sorted(result.tags.items()))
        return cls(
            metric=query.metric,
            aggregation=query.aggregation,
            step_ns=query.step_ns,
            series=ordered,
        )


class SeriesInfo(BaseModel):
    """A stored series and its latest sample (None before the first one)."""

    metric: str
    tags: dict[str, str]
    last_timestamp_ns: int | None = None
    last_value: float | None = None


class WriteReport(BaseModel):
    """What a write kept and dropped."""

    samples: int
    new_series: int
    dropped_too_old: int = 0


class MaintenanceReport(BaseModel):
    """What one maintenance pass did to partitions (counted by partition)."""

    snapshotted: int = 0
    downsampled: int = 0
    dropped: int = 0
