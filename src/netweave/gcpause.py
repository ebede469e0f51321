"""Keeping the cyclic garbage collector's pauses short: paused around bulk work, and
the heap of a process that is set up frozen.

Building thousands of objects that survive (rules, rows, results) triggers collections
that rescan the whole heap: with the collector paused, turning 1,000 rows into rules or
48,000 rows into endpoints took 40-50% less time (bench/store.py), and building 100k
OpenFlow results 1.2-1.7 µs each instead of 4-7 µs (bench/openflow_push.py).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def freeze_heap() -> None:
    """Collect, then move every object alive now (modules, schemas, the app) out of the
    collector's sight, for a long-running process once it is set up: its full
    collections then scan only what came after, instead of pausing for the whole heap
    (~90 ms on the dev VM, the slowest service creation of a run)."""
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block (or, as ``@gc_paused()``, the function) with the collector paused;
    it is restored after, also on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
