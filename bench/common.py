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


def plot_cdf(path: str, title: str, series: dict[str, list[float]], unit: str) -> None:
    """Save a PNG of the cumulative distribution of each series (values in `unit`)."""
    import matplotlib  # only benchmarks that plot need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    for label, values in series.items():
        ordered = sorted(values)
        fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
        axes.step(ordered, fractions, where="post", label=label)
    axes.set_xscale("log")
    axes.set_xlabel(unit)
    axes.set_ylabel("fraction of requests")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
