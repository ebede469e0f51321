"""Helpers for tests of netweave and of code built on it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(check: Callable[[], bool], within: float = 5.0, poll: float = 0.01) -> None:
    """Wait until `check()` is true, polling every `poll` s; TimeoutError after `within` s."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polling an arbitrary condition is the point
            await asyncio.sleep(poll)
