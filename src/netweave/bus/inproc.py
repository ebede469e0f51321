"""In-process event bus: synchronous handlers run at once, coroutine handlers are
scheduled on the running loop. A failing handler is logged and never stops the others."""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass, field

from netweave.bus.base import Handler
from netweave.model import Event

log = logging.getLogger(__name__)


def matches(pattern: str, topic: str) -> bool:
    return pattern == "*" or pattern == topic or topic.startswith(pattern + ".")


@dataclass(eq=False)
class _Subscription:
    bus: InProcessBus
    pattern: str
    handler: Handler

    def cancel(self) -> None:
        self.bus._subscriptions.remove(self)


@dataclass
class InProcessBus:
    _subscriptions: list[_Subscription] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def subscribe(self, pattern: str, handler: Handler) -> _Subscription:
        subscription = _Subscription(self, pattern, handler)
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscriptions):
            if matches(subscription.pattern, event.type.value):
                self._deliver(subscription.handler, event)

    def _deliver(self, handler: Handler, event: Event) -> None:
        try:
            result = handler(event)
        except Exception:
            log.exception("event handler %r failed on %s", handler, event.type)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._guard(result, handler, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(awaitable: object, handler: Handler, event: Event) -> None:
        try:
            await awaitable  # type: ignore[misc]
        except Exception:
            log.exception("event handler %r failed on %s", handler, event.type)
