"""The alarm service: every `interval` seconds it derives the link utilisation KPI,
evaluates the stored alarm rules, stores each raised alarm (kept as history once
cleared), publishes ``alarm.raised`` / ``alarm.cleared`` and notifies the rules' webhooks."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from netweave.assurance import TimeSeriesStore
from netweave.assurance.alarms import AlarmEvaluator, AlarmKey, Transition
from netweave.bus import EventBus
from netweave.model import Alarm, AlarmState, Event, EventType
from netweave.policy.utilisation import update_link_utilisation
from netweave.policy.webhooks import WebhookError, post_json
from netweave.store import Repository, Store
from netweave.tasks import every, stop_task

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 2.0


def _time(now_ns: int) -> datetime:
    return datetime.fromtimestamp(now_ns / 1e9, UTC)


def alarm_name(rule: str, at: datetime, alarm_id: str) -> str:
    """Sorts by rule, then time: ``<rule>@<UTC time>-<id prefix>``."""
    return f"{rule}@{at:%Y%m%dT%H%M%S.%f}Z-{alarm_id[:8]}"


class AlarmService:
    """Runs the `AlarmEvaluator` periodically and records what it reports."""

    def __init__(
        self,
        store: Store,
        tsdb: TimeSeriesStore,
        bus: EventBus,
        *,
        interval: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
        utilisation: bool = True,
    ) -> None:
        self._store = store
        self._tsdb = tsdb
        self._bus = bus
        self.interval = interval
        self._clock = clock
        self._utilisation = utilisation
        self._evaluator = AlarmEvaluator(tsdb)
        self._active: dict[AlarmKey, str] = {}
        self._restored = False
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient()
        self._notifications: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Evaluate every `interval` seconds until `stop`."""
        self._task = asyncio.ensure_future(
            every(self.interval, self.evaluate_once, "alarm evaluation")
        )

    async def stop(self) -> None:
        await stop_task(self._task)
        for task in list(self._notifications):
            task.cancel()
        await asyncio.gather(*self._notifications, return_exceptions=True)
        await self._client.aclose()

    async def evaluate_once(self) -> list[Alarm]:
        """One round: KPIs, rules, transitions stored and published; the alarms changed."""
        changed = await asyncio.to_thread(self._evaluate, self._clock())
        for transition, alarm in changed:
            kind = EventType.ALARM_RAISED if transition.raised else EventType.ALARM_CLEARED
            self._bus.publish(
                Event(type=kind, entity_id=alarm.id, data=alarm.model_dump(mode="json"))
            )
            for url in transition.rule.webhooks if transition.rule is not None else ():
                body = {"event": kind.value, "alarm": alarm.model_dump(mode="json")}
                task = asyncio.create_task(self._post(str(url), body))
                self._notifications.add(task)
                task.add_done_callback(self._notifications.discard)
        return [alarm for _, alarm in changed]

    def _restore(self) -> None:
        """Take on the alarms stored as active (left by an earlier run)."""
        with self._store.read() as repo:
            for alarm in repo.alarms.list():
                if alarm.status is AlarmState.ACTIVE:
                    self._active[(alarm.rule_id, tuple(sorted(alarm.tags.items())))] = alarm.id
        self._evaluator.restore(self._active)
        self._restored = True

    def _evaluate(self, now_ns: int) -> list[tuple[Transition, Alarm]]:
        if not self._restored:
            self._restore()
        if self._utilisation:
            update_link_utilisation(self._store, self._tsdb, now_ns)
        with self._store.read() as repo:
            rules = repo.alarm_rules.list()
        transitions = self._evaluator.evaluate(rules, now_ns)
        if not transitions:
            return []
        at = _time(now_ns)
        raised = {id(t): self._new_alarm(t, at) for t in transitions if t.raised}

        def write(repo: Repository) -> list[Alarm]:
            alarms = []
            for transition in transitions:
                if transition.raised:
                    alarms.append(repo.alarms.add(raised[id(transition)]))
                    continue
                alarm = repo.alarms.get(self._active[_key(transition)])
                alarms.append(
                    repo.alarms.update(
                        alarm.model_copy(update={"status": AlarmState.CLEARED, "cleared_at": at})
                    )
                )
            return alarms

        alarms = self._store.run(write)
        for transition, alarm in zip(transitions, alarms, strict=True):
            if transition.raised:
                self._active[_key(transition)] = alarm.id
            else:
                del self._active[_key(transition)]
        return list(zip(transitions, alarms, strict=True))

    @staticmethod
    def _new_alarm(transition: Transition, at: datetime) -> Alarm:
        rule = transition.rule
        assert rule is not None  # a rule that is gone only clears
        alarm_id = str(uuid.uuid4())
        return Alarm(
            id=alarm_id,
            name=alarm_name(rule.name, at, alarm_id),
            rule_id=rule.id,
            rule_name=rule.name,
            tags=transition.tags,
            value=transition.value,
            message=transition.message,
            raised_at=at,
        )

    async def _post(self, url: str, body: dict[str, Any]) -> None:
        try:
            await post_json(self._client, url, body, WEBHOOK_TIMEOUT_S)
        except WebhookError as error:
            log.warning("alarm webhook not delivered: %s", error)


def _key(transition: Transition) -> AlarmKey:
    return (transition.rule_id, tuple(sorted(transition.tags.items())))
