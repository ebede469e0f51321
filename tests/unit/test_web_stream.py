"""The server-sent event stream, driven through the app's ASGI interface (TestClient
buffers whole responses, so it cannot read an endless one)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from netweave.api import create_app, inventory_of
from netweave.bus import Handler, InProcessBus, Subscription
from netweave.inventory import DeviceCreate, DeviceUpdate, EndpointCreate, Invalid
from netweave.model import Event, EventType
from netweave.model.ids import device_id
from netweave.store import Store
from netweave.web.stream import events_router, parse_topics

STREAM = "/api/v1/events/stream"


@dataclass
class CountingBus:
    """An in-process bus that counts its live subscriptions."""

    inner: InProcessBus = field(default_factory=InProcessBus)
    live: int = 0

    def publish(self, event: Event) -> None:
        self.inner.publish(event)

    def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        subscription = self.inner.subscribe(pattern, handler)
        self.live += 1
        bus = self

        class Counted:
            def cancel(self) -> None:
                bus.live -= 1
                subscription.cancel()

        return Counted()


@dataclass
class Sse:
    name: str
    data: Any
    id: str | None


class StreamReader:
    """One GET of an event stream on `app`: read events as they come, then disconnect."""

    def __init__(self, app: FastAPI, path: str, query: str = "") -> None:
        self._body = ""
        self._chunks: asyncio.Queue[str] = asyncio.Queue()
        self._gone = asyncio.Event()
        self.status: int | None = None
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"test")],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        self.done = asyncio.ensure_future(app(scope, self._receive, self._send))
        self._requested = False

    async def _receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            await self._chunks.put(message.get("body", b"").decode())

    async def next(self) -> Sse | None:
        """The next event or comment (name ``:``); None when the stream ended."""
        while "\n\n" not in self._body:
            if self.done.done() and self._chunks.empty():
                return None
            getting = asyncio.ensure_future(self._chunks.get())
            await asyncio.wait({getting, self.done}, timeout=5, return_when="FIRST_COMPLETED")
            if not getting.done():
                getting.cancel()
                if not self.done.done():
                    raise TimeoutError("no event within 5 s")
                continue
            self._body += getting.result()
        block, self._body = self._body.split("\n\n", 1)
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            key, _, value = line.partition(":")
            fields[key or ":"] = value.strip()
        if ":" in fields:
            return Sse(":", fields[":"], None)
        return Sse(fields.get("event", "message"), json.loads(fields["data"]), fields.get("id"))

    async def next_message(self) -> Sse:
        """The next event that is not a comment."""
        while (sse := await self.next()) is not None:
            if sse.name != ":":
                return sse
        raise AssertionError("the stream ended")

    async def disconnect(self) -> None:
        self._gone.set()
        await asyncio.wait_for(self.done, 5)


@pytest.fixture
async def app(store: Store) -> AsyncIterator[tuple[FastAPI, CountingBus]]:
    bus = CountingBus()
    yield create_app(store, bus), bus


async def test_events_arrive_in_publish_order(app: tuple[FastAPI, CountingBus]) -> None:
    web, bus = app
    reader = StreamReader(web, STREAM, "topics=device")
    ready = await reader.next_message()
    assert (ready.name, reader.status, bus.live) == ("ready", 200, 1)
    inventory = inventory_of(web)

    def writes() -> None:  # a worker thread, as REST requests are
        for name in ("s1", "s2", "s3"):
            inventory.create_device(DeviceCreate(name=name))
        inventory.update_device("s2", DeviceUpdate(address="tcp:10.0.0.2:6653"))
        inventory.create_endpoint("s1", EndpointCreate(name="eth1"))  # not a device event
        inventory.delete_device("s3")

    await asyncio.to_thread(writes)
    received = [await reader.next_message() for _ in range(5)]
    assert [(m.data["type"], m.data["data"]["name"]) for m in received] == [
        ("device.created", "s1"),
        ("device.created", "s2"),
        ("device.created", "s3"),
        ("device.updated", "s2"),
        ("device.deleted", "s3"),
    ]
    assert [m.id for m in received] == ["1", "2", "3", "4", "5"]
    await reader.disconnect()


async def test_client_disconnect_ends_the_stream_and_its_subscription(
    app: tuple[FastAPI, CountingBus],
) -> None:
    web, bus = app
    readers = [StreamReader(web, STREAM) for _ in range(2)]
    for reader in readers:
        assert (await reader.next_message()).name == "ready"
    assert bus.live == 2
    await readers[0].disconnect()
    assert bus.live == 1
    inventory_of(web).create_device(DeviceCreate(name="s1"))  # still reaches the other
    assert (await readers[1].next_message()).data["entity_id"] == device_id("s1")
    await readers[1].disconnect()
    assert bus.live == 0


def small_app(bus: CountingBus, **options: Any) -> FastAPI:
    web = FastAPI()
    web.include_router(events_router(bus, **options))
    return web


def event(name: str) -> Event:
    return Event(type=EventType.DEVICE_CREATED, entity_id=device_id(name), data={"name": name})


async def test_a_client_that_falls_behind_is_told_to_resync() -> None:
    bus = CountingBus()
    reader = StreamReader(small_app(bus, limit=2), "/events/stream")
    assert (await reader.next_message()).name == "ready"
    for name in ("s1", "s2", "s3"):  # one more than the queue holds, before it is read
        bus.publish(event(name))
    resync = await reader.next_message()
    assert resync.name == "resync" and "reconnect" in resync.data["reason"]
    assert await reader.next() is None  # the stream ended by itself
    assert bus.live == 0


async def test_idle_streams_send_keepalive_comments() -> None:
    bus = CountingBus()
    reader = StreamReader(small_app(bus, keepalive_s=0.01), "/events/stream")
    assert (await reader.next_message()).name == "ready"
    assert (await reader.next()) == Sse(":", "keepalive", None)
    bus.publish(event("s1"))
    assert (await reader.next_message()).id == "1"
    await reader.disconnect()


def test_topics_are_checked(store: Store) -> None:
    with TestClient(create_app(store, InProcessBus())) as client:
        response = client.get(STREAM, params={"topics": "link,lnk.status"})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["topics"] and "'lnk.status'" in problem["msg"]


def test_topic_patterns() -> None:
    assert parse_topics(" link , device.status") == ["link", "device.status"]
    assert parse_topics("link.status,link,link,service.created") == ["link", "service.created"]
    assert parse_topics("device,*") == ["*"]
    with pytest.raises(Invalid, match="at least one topic"):
        parse_topics(" , ")
