"""The Prometheus text exposition format (version 0.0.4) of the latest sample of every
series, plus a few metrics of this process.

Metric names become ``[a-zA-Z_:][a-zA-Z0-9_:]*`` (any other character, such as the
``.`` between measurement and field, turns into ``_``), label names
``[a-zA-Z_][a-zA-Z0-9_]*``; label values escape ``\\``, ``"`` and newlines. Stored
series carry no type, so they are exposed as ``untyped``; no timestamps are written
(the scraper stamps them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from pathlib import Path

from netweave.assurance.series import SeriesKey, Tags

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_NOT_METRIC = re.compile(r"[^a-zA-Z0-9_:]")
_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class OwnMetric:
    """A metric netweave reports about itself."""

    name: str
    kind: str
    help: str
    value: float


@lru_cache(maxsize=10_000)
def metric_name(name: str) -> str:
    cleaned = _NOT_METRIC.sub("_", name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] in "_:" else "_" + cleaned


def label_name(name: str) -> str:
    cleaned = _NOT_LABEL.sub("_", name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else "_" + cleaned


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value - value == 0:
        return repr(value)
    if value != value:
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def render(latest: Iterable[tuple[SeriesKey, int, float]], own: Iterable[OwnMetric] = ()) -> str:
    """The exposition text for series' latest (key, timestamp, value) and `own` metrics."""
    lines: list[str] = []
    for metric in own:
        lines += [
            f"# HELP {metric.name} {metric.help}",
            f"# TYPE {metric.name} {metric.kind}",
            f"{metric.name} {_number(metric.value)}",
        ]
    named = sorted(((metric_name(key.metric), key, value) for key, _, value in latest), key=_first)
    for name, family in groupby(named, key=_first):
        lines.append(f"# TYPE {name} untyped")
        lines += [f"{_sample_name(name, key.tags)} {_number(value)}" for _, key, value in family]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=100_000)
def _sample_name(name: str, tags: Tags) -> str:
    """``name{label="value",...}`` (cached: a series is exposed at every scrape)."""
    if not tags:
        return name
    labels = ",".join(f'{label_name(k)}="{_label_value(v)}"' for k, v in tags)
    return f"{name}{{{labels}}}"


def _first(item: tuple[str, SeriesKey, float]) -> str:
    return item[0]


def process_metrics() -> list[OwnMetric]:
    """CPU time and resident memory of this process (memory on Linux only)."""
    times = os.times()
    metrics = [
        OwnMetric(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            times.user + times.system,
        )
    ]
    statm = Path("/proc/self/statm")
    if statm.exists():
        resident_pages = int(statm.read_text().split()[1])
        metrics.append(
            OwnMetric(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                resident_pages * os.sysconf("SC_PAGE_SIZE"),
            )
        )
    return metrics
