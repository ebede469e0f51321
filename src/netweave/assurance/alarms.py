"""Alarm evaluation: alarm rules checked against a `TimeSeriesStore`, one alarm per rule
and series, reported as transitions (raised, cleared) exactly once each.

The evaluator keeps which alarms are active and since when a condition has held (for
``for_s``); `restore` seeds it with the alarms already active (after a restart).
Persisting alarms and publishing them is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netweave.assurance.query import Query, TagMatcher
from netweave.assurance.series import Tags
from netweave.assurance.tsdb import TimeSeriesStore
from netweave.model import AlarmKind, AlarmRule

NS = 1_000_000_000
AlarmKey = tuple[str, Tags]
"""An alarm's identity: its rule's id and the tags of its series."""


@dataclass(frozen=True)
class Transition:
    """An alarm that was raised (`raised`) or cleared on one series; `rule` is None when
    the alarm cleared because its rule is gone."""

    rule_id: str
    rule: AlarmRule | None
    tags: dict[str, str]
    raised: bool
    value: float | None
    message: str


def _tags(tags: dict[str, str]) -> Tags:
    return tuple(sorted(tags.items()))


class AlarmEvaluator:
    """Evaluates rules; `evaluate` returns what changed since the previous call."""

    def __init__(self, tsdb: TimeSeriesStore) -> None:
        self._tsdb = tsdb
        self._active: set[AlarmKey] = set()
        self._holding_since: dict[AlarmKey, int] = {}

    def restore(self, active: Iterable[AlarmKey]) -> None:
        self._active.update(active)

    def evaluate(self, rules: Iterable[AlarmRule], now_ns: int) -> list[Transition]:
        transitions: list[Transition] = []
        seen: set[str] = set()
        for rule in rules:
            seen.add(rule.id)
            transitions += self._evaluate_rule(rule, now_ns)
        for key in sorted(k for k in self._active if k[0] not in seen):
            self._active.discard(key)
            transitions.append(Transition(key[0], None, dict(key[1]), False, None, "rule removed"))
        self._holding_since = {k: v for k, v in self._holding_since.items() if k[0] in seen}
        return transitions

    def _evaluate_rule(self, rule: AlarmRule, now_ns: int) -> list[Transition]:
        holding = _conditions(self._tsdb, rule, now_ns)
        transitions = []
        for tags, (value, message) in holding.items():
            key = (rule.id, tags)
            since = self._holding_since.setdefault(key, now_ns)
            if key not in self._active and now_ns - since >= rule.for_s * NS:
                self._active.add(key)
                transitions.append(Transition(rule.id, rule, dict(tags), True, value, message))
        for key in [k for k in self._active if k[0] == rule.id and k[1] not in holding]:
            self._active.discard(key)
            transitions.append(
                Transition(rule.id, rule, dict(key[1]), False, None, "condition cleared")
            )
        for key in [k for k in self._holding_since if k[0] == rule.id and k[1] not in holding]:
            del self._holding_since[key]
        return transitions


Holding = dict[Tags, tuple[float | None, str]]
"""The series whose condition holds now, with the value and a message."""


def _conditions(tsdb: TimeSeriesStore, rule: AlarmRule, now_ns: int) -> Holding:
    match rule.kind:
        case AlarmKind.THRESHOLD:
            return _threshold(tsdb, rule, now_ns)
        case AlarmKind.RELATIVE:
            return _relative(tsdb, rule, now_ns)
        case AlarmKind.DEADMAN:
            return _deadman(tsdb, rule, now_ns)


def _matchers(rule: AlarmRule) -> list[TagMatcher]:
    return [TagMatcher(key=k, value=v) for k, v in sorted(rule.match.items())]


def _windows(
    tsdb: TimeSeriesStore, rule: AlarmRule, now_ns: int, count: int
) -> dict[Tags, list[float | None]]:
    """Per series, the aggregate of each of the last `count` windows (None: no data),
    oldest first; the newest window is (now - window_s, now]."""
    window = int(rule.window_s * NS)
    start = now_ns + 1 - count * window
    query = Query(
        metric=rule.metric,
        start_ns=start,
        end_ns=now_ns + 1,
        step_ns=window,
        aggregation=rule.aggregation,
        match=_matchers(rule),
    )
    found: dict[Tags, list[float | None]] = {}
    for series in tsdb.query(query).series:
        values: list[float | None] = [None] * count
        for stamp, value in zip(series.timestamps_ns, series.values, strict=True):
            values[(stamp - start) // window] = value
        found[_tags(series.tags)] = values
    return found


def _threshold(tsdb: TimeSeriesStore, rule: AlarmRule, now_ns: int) -> Holding:
    holding: Holding = {}
    for tags, (value,) in _windows(tsdb, rule, now_ns, 1).items():
        if value is not None and rule.comparison.holds(value, rule.threshold):
            holding[tags] = (value, _said(rule, f"{rule.aggregation} {value:g}"))
    return holding


def _relative(tsdb: TimeSeriesStore, rule: AlarmRule, now_ns: int) -> Holding:
    holding: Holding = {}
    for tags, (before, now) in _windows(tsdb, rule, now_ns, 2).items():
        if before is None or now is None or before == 0:
            continue
        change = 100.0 * (now - before) / abs(before)
        if rule.comparison.holds(change, rule.threshold):
            holding[tags] = (change, _said(rule, f"change {change:+.1f}%"))
    return holding


def _deadman(tsdb: TimeSeriesStore, rule: AlarmRule, now_ns: int) -> Holding:
    """Series silent for `window_s`; when no series matches at all, the rule's filter."""
    latest = tsdb.latest(rule.metric, _matchers(rule))
    silence = f"no {rule.metric} sample for {rule.window_s:g} s"
    if not latest:
        return {_tags(rule.match): (None, silence)}
    deadline = now_ns - rule.window_s * NS
    return {key.tags: (None, silence) for key, stamp, _ in latest if stamp < deadline}


def _said(rule: AlarmRule, observed: str) -> str:
    return (
        f"{rule.metric} {observed} over {rule.window_s:g} s "
        f"{rule.comparison.value} {rule.threshold:g}"
    )
