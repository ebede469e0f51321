"""Alarm rules evaluated on an embedded time-series store filled with synthetic samples:
each kind raises and clears exactly once; the alarm service stores and publishes them."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from netweave.assurance import EmbeddedTSDB, SampleBatch, series_key
from netweave.assurance.alarms import AlarmEvaluator, Transition
from netweave.bus import InProcessBus
from netweave.model import (
    AlarmRule,
    AlarmState,
    Comparison,
    EndpointRef,
    Event,
    EventType,
    Link,
)
from netweave.model.ids import link_id
from netweave.policy import AlarmService
from netweave.store import Store

S = 1_000_000_000
T0 = 1_700_000_000 * S


def fresh_tsdb() -> EmbeddedTSDB:
    """An empty store whose clock stands at T0 (so it keeps samples of T0 on)."""
    return EmbeddedTSDB(clock=lambda: T0)


def write(
    tsdb: EmbeddedTSDB, metric: str, tags: dict[str, str], points: Iterable[tuple[float, float]]
) -> None:
    """Samples of one series at T0 + t seconds."""
    key = series_key(metric, tags)
    tsdb.write(SampleBatch.of((key, T0 + int(t * S), v) for t, v in points))


def rule(**fields: object) -> AlarmRule:
    base: dict[str, object] = {"id": "r1", "name": "r1", "metric": "link.utilisation"}
    return AlarmRule.model_validate(base | fields)


def summary(transitions: list[Transition]) -> list[tuple[str, dict[str, str]]]:
    return [("raised" if t.raised else "cleared", t.tags) for t in transitions]


def run(
    evaluator: AlarmEvaluator, rules: list[AlarmRule], seconds: Iterable[float]
) -> dict[float, list[tuple[str, dict[str, str]]]]:
    """The transitions of each evaluation at T0 + t seconds (only those with some)."""
    found = {}
    for t in seconds:
        if changed := evaluator.evaluate(rules, T0 + int(t * S)):
            found[t] = summary(changed)
    return found


def test_threshold_raises_once_per_series_and_clears_once() -> None:
    tsdb = fresh_tsdb()
    write(
        tsdb,
        "link.utilisation",
        {"link": "a"},
        [(t, 90.0 if 3 <= t < 8 else 10.0) for t in range(12)],
    )
    write(tsdb, "link.utilisation", {"link": "b"}, [(t, 10.0) for t in range(12)])
    hot = rule(window_s=2, comparison="gt", threshold=80)
    assert run(AlarmEvaluator(tsdb), [hot], range(1, 13)) == {
        4: [("raised", {"link": "a"})],  # (2, 4]: 90 and 90
        8: [("cleared", {"link": "a"})],  # (6, 8]: 90 and 10
    }


def test_threshold_must_hold_for_its_duration() -> None:
    tsdb = fresh_tsdb()
    write(
        tsdb,
        "link.utilisation",
        {"link": "a"},
        [(t, 90.0 if t < 2 or t >= 5 else 0.0) for t in range(20)],
    )
    hot = rule(window_s=1, threshold=80, for_s=4)
    # at t = 1 it holds for 0 s only; from t = 5 on it holds, raised 4 s later
    assert run(AlarmEvaluator(tsdb), [hot], range(1, 15)) == {9: [("raised", {"link": "a"})]}


def test_tag_filter_and_operators() -> None:
    tsdb = fresh_tsdb()
    for link, value in (("a", 5.0), ("b", 5.0)):
        write(tsdb, "link.utilisation", {"link": link}, [(0, value)])
    evaluator = AlarmEvaluator(tsdb)
    only_b = rule(match={"link": "b"}, window_s=2, comparison="eq", threshold=5)
    assert run(evaluator, [only_b], [1]) == {1: [("raised", {"link": "b"})]}
    assert (
        Comparison.NEQ.holds(1, 2) and Comparison.LTE.holds(2, 2) and not Comparison.LT.holds(2, 2)
    )


def test_relative_change_against_the_previous_window() -> None:
    tsdb = fresh_tsdb()
    write(
        tsdb,
        "service.throughput",
        {"service": "s"},
        [(t, 100.0 if t < 6 else 20.0) for t in range(12)],
    )
    drop = rule(
        metric="service.throughput", kind="relative", window_s=2, comparison="lt", threshold=-50
    )
    # t = 7: (3, 5] = 100 and (5, 7] = 20, -80 %; t = 9: 20 and 20, 0 %
    assert run(AlarmEvaluator(tsdb), [drop], range(2, 13)) == {
        7: [("raised", {"service": "s"})],
        9: [("cleared", {"service": "s"})],
    }


def test_deadman_on_a_silent_series_and_on_no_series_at_all() -> None:
    tsdb = fresh_tsdb()
    write(tsdb, "host.cpu", {"host": "h1"}, [(t, 1.0) for t in range(5)])
    write(tsdb, "host.cpu", {"host": "h2"}, [(t, 1.0) for t in range(20)])
    silent = rule(metric="host.cpu", kind="deadman", window_s=3)
    evaluator = AlarmEvaluator(tsdb)
    assert run(evaluator, [silent], range(1, 11)) == {8: [("raised", {"host": "h1"})]}
    write(tsdb, "host.cpu", {"host": "h1"}, [(11, 1.0)])
    assert run(evaluator, [silent], [11.5]) == {11.5: [("cleared", {"host": "h1"})]}
    nothing = rule(id="r2", name="r2", metric="vnf.heartbeat", kind="deadman", match={"vnf": "x"})
    assert run(evaluator, [nothing], [1, 2]) == {1: [("raised", {"vnf": "x"})]}


def test_a_removed_rule_clears_its_alarms() -> None:
    tsdb = fresh_tsdb()
    write(tsdb, "link.utilisation", {"link": "a"}, [(0, 99.0)])
    evaluator = AlarmEvaluator(tsdb)
    assert run(evaluator, [rule(window_s=5, threshold=80)], [1]) == {1: [("raised", {"link": "a"})]}
    cleared = evaluator.evaluate([], T0 + 2 * S)
    assert summary(cleared) == [("cleared", {"link": "a"})] and cleared[0].rule is None


# -- the alarm service ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def utilisation_store(store: Store) -> None:
    """One link s1-s2 of 1 Mbit/s and a hot utilisation rule on every link."""
    ends = [EndpointRef(device_id=d, endpoint_id=f"{d}-e") for d in ("d1", "d2")]
    with store.transaction() as repo:
        repo.links.add(
            Link(id=link_id("s1-s2"), name="s1-s2", a=ends[0], b=ends[1], capacity_bps=1_000_000)
        )
        repo.alarm_rules.add(rule(window_s=2, threshold=80))


async def test_service_derives_utilisation_stores_publishes_and_keeps_history(store: Store) -> None:
    utilisation_store(store)
    tsdb, bus, clock = fresh_tsdb(), InProcessBus(), Clock()
    seen: list[Event] = []
    bus.subscribe("alarm", seen.append)
    service = AlarmService(store, tsdb, bus, clock=clock)
    try:
        # 112,500 bytes/s = 900 kbit/s on s1's port of the link: 90 %
        tx = series_key("port.tx_bytes", {"device": "s1", "port": "eth1", "link": "s1-s2"})
        tsdb.write(SampleBatch.of((tx, T0 + t * S, 112_500.0 * t) for t in range(4)))
        clock.now = T0 + 4 * S
        [raised] = await service.evaluate_once()
        assert raised.tags == {"link": "s1-s2"} and raised.value == pytest.approx(90.0)
        assert await service.evaluate_once() == []  # raised once
        clock.now = T0 + 10 * S  # no traffic since: nothing to derive, the window empties
        [cleared] = await service.evaluate_once()
    finally:
        await service.stop()
    assert cleared.id == raised.id and cleared.status is AlarmState.CLEARED
    assert [(e.type, e.entity_id) for e in seen] == [
        (EventType.ALARM_RAISED, raised.id),
        (EventType.ALARM_CLEARED, raised.id),
    ]
    with store.read() as repo:
        assert [a.status for a in repo.alarms.list()] == [AlarmState.CLEARED]


async def test_a_restarted_service_does_not_raise_an_active_alarm_again(store: Store) -> None:
    utilisation_store(store)
    tsdb, clock = fresh_tsdb(), Clock()
    write(tsdb, "link.utilisation", {"link": "s1-s2"}, [(t, 95.0) for t in range(10)])
    clock.now = T0 + 3 * S
    first = AlarmService(store, tsdb, InProcessBus(), clock=clock, utilisation=False)
    assert len(await first.evaluate_once()) == 1
    await first.stop()
    second = AlarmService(store, tsdb, InProcessBus(), clock=clock, utilisation=False)
    try:
        clock.now = T0 + 4 * S
        assert await second.evaluate_once() == []
        clock.now = T0 + 20 * S
        [cleared] = await second.evaluate_once()
        assert cleared.status is AlarmState.CLEARED
    finally:
        await second.stop()
