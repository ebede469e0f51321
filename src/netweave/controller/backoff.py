"""Retry delays for temporary failures (device unreachable, session lost)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential delays in seconds: initial, initial*factor, … capped at `maximum`."""

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)
