"""Background tasks: run work periodically, stop a task and wait for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Future[Any] | None) -> None:
    """Cancel `task` (if any) and wait until it has finished."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def every(interval: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `work` now and then every `interval` seconds, forever; a failing round is
    logged (as `what`) and never ends the loop."""
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(interval)
