"""Batched: calls made in one event-loop turn run as one batch."""

from __future__ import annotations

import asyncio

import pytest

from netweave.batching import Batched


async def test_calls_in_one_turn_run_as_one_batch() -> None:
    batches: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 2 for item in items]

    batched = Batched(double)
    assert await asyncio.gather(*(batched(i) for i in range(5))) == [0, 2, 4, 6, 8]
    assert await batched(7) == 14
    assert batches == [[0, 1, 2, 3, 4], [7]]


async def test_every_caller_of_a_failed_batch_gets_the_error() -> None:
    def fail(items: list[int]) -> list[int]:
        raise RuntimeError(f"refused {items}")

    batched = Batched(fail)
    results = await asyncio.gather(batched(1), batched(2), return_exceptions=True)
    assert [str(r) for r in results] == ["refused [1, 2]"] * 2
    with pytest.raises(RuntimeError, match=r"refused \[3\]"):
        await batched(3)  # the next batch runs anew


async def test_a_cancelled_caller_does_not_stop_the_others() -> None:
    seen: list[list[str]] = []

    def echo(items: list[str]) -> list[str]:
        seen.append(items)
        return items

    batched = Batched(echo)
    gone = asyncio.ensure_future(batched("gone"))
    kept = asyncio.ensure_future(batched("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    assert await kept == "kept"
    assert seen == [["gone", "kept"]]
