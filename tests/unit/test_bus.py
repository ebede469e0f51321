from __future__ import annotations

import asyncio
import threading

import pytest

from netweave.bus import InProcessBus, matches
from netweave.model import Event, EventType
from netweave.testing import eventually


def _event(kind: EventType = EventType.LINK_STATUS) -> Event:
    return Event(type=kind, entity_id="x")


@pytest.mark.parametrize(
    ("pattern", "topic", "hit"),
    [
        ("*", "link.status", True),
        ("link", "link.status", True),
        ("link.status", "link.status", True),
        ("lin", "link.status", False),
        ("link.created", "link.status", False),
    ],
)
def test_patterns(pattern: str, topic: str, hit: bool) -> None:
    assert matches(pattern, topic) is hit


def test_sync_handlers_run_at_once_and_a_failing_one_does_not_stop_others() -> None:
    bus = InProcessBus()
    seen: list[str] = []

    def boom(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe("link", boom)
    sub = bus.subscribe("*", lambda e: seen.append(e.type.value))
    bus.publish(_event())
    bus.publish(_event(EventType.DEVICE_CREATED))
    assert seen == ["link.status", "device.created"]
    sub.cancel()
    bus.publish(_event())
    assert len(seen) == 2


async def test_coroutine_handler_runs_on_its_loop_even_when_published_from_a_thread() -> None:
    bus = InProcessBus()
    loops: list[asyncio.AbstractEventLoop] = []

    async def handler(event: Event) -> None:
        loops.append(asyncio.get_running_loop())

    bus.subscribe("link", handler)
    thread = threading.Thread(target=bus.publish, args=(_event(),))
    thread.start()
    thread.join()
    bus.publish(_event())
    await eventually(lambda: len(loops) == 2)
    assert loops == [asyncio.get_running_loop()] * 2
