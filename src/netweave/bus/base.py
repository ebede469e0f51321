"""The event bus contract: publish typed events, subscribe by topic prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from netweave.model import Event

Handler = Callable[[Event], Awaitable[None] | None]


class Subscription(Protocol):
    def cancel(self) -> None: ...


class EventBus(Protocol):
    """Publish/subscribe of `Event`s. A topic pattern is an `EventType` value
    (``link.status``), an entity prefix (``link``) or ``*`` for everything."""

    def publish(self, event: Event) -> None: ...

    def subscribe(self, pattern: str, handler: Handler) -> Subscription: ...
