"""The base of the periodic KPI collectors: every `interval` seconds a round reads the
store and the devices and writes samples to the time-series store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ClassVar

from netweave.assurance import TimeSeriesStore
from netweave.controller.device_manager import DeviceManager
from netweave.store import Store
from netweave.tasks import every, stop_task


class Collector:
    """Runs `collect_once` every `interval` seconds between `start` and `stop`; a round
    that fails is logged as `round_name` and the next one runs anyway."""

    round_name: ClassVar[str] = "collection round"

    def __init__(
        self,
        store: Store,
        manager: DeviceManager,
        tsdb: TimeSeriesStore,
        *,
        interval: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._manager = manager
        self._tsdb = tsdb
        self.interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(every(self.interval, self.collect_once, self.round_name))

    async def stop(self) -> None:
        await stop_task(self._task)

    async def collect_once(self) -> int:
        """One round; returns how many samples were written."""
        raise NotImplementedError
