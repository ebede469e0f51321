"""Bus events as server-sent events: ``GET /api/v1/events/stream``.

Each client gets its own subscription and queue. The stream opens with a ``ready``
event (sent once the subscription exists: a client that fetches its snapshot after it
misses nothing), then one unnamed message per bus event, in publish order, its data the
`Event` as JSON and its id a per-stream sequence number. A client too slow to keep up
gets a ``resync`` event and the stream ends: it should re-read its state and reconnect.
A comment line every `keepalive_s` keeps idle connections open through proxies (and,
where the server reports a gone client only when a write fails, ends its stream).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from netweave.bus import EventBus, Subscription, matches
from netweave.inventory import Invalid
from netweave.model import Event, EventType

RECONNECT_MS = 2000
TOPICS = frozenset({"*"} | {t.value for t in EventType} | {t.entity for t in EventType})


def parse_topics(text: str) -> list[str]:
    """Comma-separated topic patterns (``*``, an entity such as ``link``, or an event type
    such as ``link.status``), each checked against the known topics; those another one
    covers are dropped (each event is sent once)."""
    patterns = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not patterns:
        raise Invalid("topics", "give at least one topic, e.g. * or link,device")
    unknown = [p for p in patterns if p not in TOPICS]
    if unknown:
        known = ", ".join(sorted(t for t in TOPICS if "." not in t))
        raise Invalid(
            "topics", f"unknown topic {unknown[0]!r}; topics are {known} or <topic>.<verb>"
        )
    return [p for p in patterns if not any(q != p and matches(q, p) for q in patterns)]


def sse(data: object, *, event: str | None = None, event_id: int | None = None) -> str:
    """One server-sent event; `data` is JSON-encoded unless it is already a string."""
    lines = [] if event is None else [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {data if isinstance(data, str) else json.dumps(data)}")
    return "\n".join(lines) + "\n\n"


class EventFeed:
    """The events of `patterns`, queued for one consumer on the running loop in the order
    they were published, from any thread. Holds at most `limit` events: past that it is
    `overflowed` and drops the rest."""

    def __init__(self, bus: EventBus, patterns: Sequence[str], limit: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event] = asyncio.Queue(limit)
        self.overflowed = False
        self._subscriptions: list[Subscription] = [bus.subscribe(p, self._offer) for p in patterns]

    def _offer(self, event: Event) -> None:
        self._loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next(self, timeout_s: float) -> Event | None:
        """The next event, or None after `timeout_s` without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return None

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.cancel()
        self._subscriptions.clear()


async def event_frames(
    bus: EventBus, patterns: Sequence[str], keepalive_s: float, limit: int
) -> AsyncIterator[str]:
    """The SSE text of the events of `patterns` on `bus`, until the client falls behind or
    goes (the generator is then cancelled). Subscribes on the first read, so a stream
    never started holds no subscription; unsubscribes at the end, whatever ends it."""
    feed = EventFeed(bus, patterns, limit)
    try:
        yield f"retry: {RECONNECT_MS}\n" + sse({}, event="ready")
        sequence = 0
        while True:
            event = await feed.next(keepalive_s)
            if feed.overflowed:
                yield sse(
                    {"reason": "the client fell behind; re-read and reconnect"}, event="resync"
                )
                return
            if event is None:
                yield ": keepalive\n\n"
                continue
            sequence += 1
            yield sse(event.model_dump_json(), event_id=sequence)
    finally:
        feed.close()


def events_router(bus: EventBus, *, keepalive_s: float = 15.0, limit: int = 10_000) -> APIRouter:
    """The stream route over `bus`."""
    router = APIRouter(tags=["events"])

    @router.get(
        "/events/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Endless"}},
    )
    async def stream_events(topics: str = "*") -> StreamingResponse:
        """Server-sent events: every bus event matching `topics` (comma-separated: ``*``,
        entities like ``link``, or types like ``link.status``) from now on."""
        return StreamingResponse(
            event_frames(bus, parse_topics(topics), keepalive_s, limit),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
