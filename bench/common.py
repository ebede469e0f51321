"""Shared helpers of the benchmarks: the `--quick` flag, a stopwatch, result lines.

Every result is printed as ``name: value unit (ratio vs baseline)``.
"""

from __future__ import annotations

import argparse
import time
from types import TracebackType


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser that already has `--quick`."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help="a small run (smoke test, CI)")
    return result


class Stopwatch:
    """Adds up the wall-clock time spent inside ``with stopwatch:`` blocks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.seconds += time.perf_counter() - self._started

    def rate(self, count: int) -> float:
        """`count` per second of measured time."""
        return count / self.seconds


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def report(name: str, value: float, unit: str, baseline: float | None = None) -> float:
    """Print one result line (``baseline=None``: this line is the baseline); returns value."""
    ratio = "baseline" if baseline is None else f"{value / baseline:,.1f}x vs baseline"
    print(f"{name}: {_number(value)} {unit} ({ratio})", flush=True)
    return value
