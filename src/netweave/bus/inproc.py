"""In-process event bus.

Synchronous handlers run at once, in the publisher's thread. Coroutine handlers run on
the event loop that was running when they subscribed (so a publish from a worker thread,
e.g. a REST request, still reaches them), or on the publisher's loop if there was none.
A failing handler is logged and never stops the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

from netweave.bus.base import Handler
from netweave.model import Event

log = logging.getLogger(__name__)


def matches(pattern: str, topic: str) -> bool:
    return pattern in ("*", topic) or topic.startswith(pattern + ".")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@dataclass(eq=False)
class _Subscription:
    bus: InProcessBus
    pattern: str
    handler: Handler
    loop: asyncio.AbstractEventLoop | None

    def cancel(self) -> None:
        if self in self.bus._subscriptions:
            self.bus._subscriptions.remove(self)


@dataclass
class InProcessBus:
    _subscriptions: list[_Subscription] = field(default_factory=list)
    _tasks: set[asyncio.Future[None] | concurrent.futures.Future[None]] = field(default_factory=set)

    def subscribe(self, pattern: str, handler: Handler) -> _Subscription:
        subscription = _Subscription(self, pattern, handler, _running_loop())
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscriptions):
            if matches(subscription.pattern, event.type.value):
                self._deliver(subscription, event)

    def _deliver(self, subscription: _Subscription, event: Event) -> None:
        try:
            result = subscription.handler(event)
        except Exception:
            log.exception("event handler %r failed on %s", subscription.handler, event.type)
            return
        if not inspect.isawaitable(result):
            return
        work = _guard(result, subscription, event)
        here = _running_loop()
        loop = subscription.loop or here
        if loop is None or loop.is_closed():
            work.close()
            log.error("event %s dropped: no event loop for %r", event.type, subscription.handler)
        elif loop is here:
            self._keep(asyncio.ensure_future(work))
        else:
            self._keep(asyncio.run_coroutine_threadsafe(work, loop))

    def _keep(self, task: asyncio.Future[None] | concurrent.futures.Future[None]) -> None:
        """Hold a reference until the handler is done (the loop keeps only weak ones)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _guard(awaitable: Any, subscription: _Subscription, event: Event) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("event handler %r failed on %s", subscription.handler, event.type)
