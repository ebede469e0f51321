"""Coalescing: the calls made during one event-loop turn run as one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batched(Generic[T, R]):
    """`await batched(item)` queues `item`; at the loop's next turn `run` handles every
    item queued until then in one call (one store transaction instead of one per caller,
    say), and each caller gets its own result, or the exception `run` raised."""

    def __init__(self, run: Callable[[list[T]], Sequence[R]]) -> None:
        self._run = run
        self._items: list[T] = []
        self._waiters: list[asyncio.Future[R]] = []

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if not self._items:
            loop.call_soon(self._flush)
        waiter: asyncio.Future[R] = loop.create_future()
        self._items.append(item)
        self._waiters.append(waiter)
        return await waiter

    def _flush(self) -> None:
        items, waiters = self._items, self._waiters
        self._items, self._waiters = [], []
        try:
            results = self._run(items)
        except Exception as exc:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for waiter, result in zip(waiters, results, strict=True):
            if not waiter.done():
                waiter.set_result(result)
