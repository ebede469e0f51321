"""The event-condition-action engine.

Life cycle of a stored policy: ``inserted`` → ``validated`` (its alarm rule, services
and event topic exist) → ``active`` (listening) → ``enforced`` (an action succeeded);
``disabled`` when switched off, ``failed`` (with the reason) when it does not validate.
Every change of policies or alarm rules in the store re-validates them.

Triggers are ``alarm.raised`` events of the policy's rule, or ``count`` bus events of a
topic for one entity within ``within_s``. The trigger's target (link, endpoint, service,
device) must concern one of the policy's services, when it names some. A target acted on
is held down for ``hold_down_s`` (later triggers are audited as held down, not run), so a
policy cannot make a service oscillate. Actions run in order; a failing one is audited and
retried with exponential backoff up to ``max_attempts`` times, and a failure never stops
the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx

from netweave.bus import EventBus, Subscription
from netweave.model import (
    AlarmTrigger,
    AuditEntry,
    AuditResult,
    Event,
    EventTrigger,
    EventType,
    Policy,
    PolicyAction,
    PolicyState,
)
from netweave.policy.actions import ActionContext, run_action
from netweave.policy.targets import Target, in_scope, target_of
from netweave.policy.validation import validate_policy
from netweave.store import Change, Repository, Store

log = logging.getLogger(__name__)
LIVE = (PolicyState.ACTIVE, PolicyState.ENFORCED)
RESYNC_S = 1.0


def audit_name(at: datetime, entry_id: str) -> str:
    """Sorts by time: ``<UTC time>-<id prefix>``."""
    return f"{at:%Y%m%dT%H%M%S.%f}Z-{entry_id[:8]}"


class PolicyEngine:
    """Runs the enabled, valid policies of `store` against the events of `bus`."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._bus = bus
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._sleep = sleep
        self._live: dict[str, tuple[Policy, str | None]] = {}
        self._topics: frozenset[str] = frozenset()
        self._counts: dict[tuple[str, str], deque[float]] = {}
        self._held_since: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client = httpx.AsyncClient()
        self._subscription: Subscription | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_pending = False
        self._sync_lock = asyncio.Lock()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._store.on_commit(self._on_commit)
        self._subscription = self._bus.subscribe("*", self._on_event)
        await self.sync()

    async def stop(self) -> None:
        self._loop = None
        if self._subscription is not None:
            self._subscription.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def idle(self) -> None:
        """Wait until every action under way is done (retries included)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- life cycle ---------------------------------------------------------------------

    def _on_commit(self, changes: list[Change]) -> None:
        loop = self._loop
        if loop is not None and any(c.kind in ("policy", "alarm_rule") for c in changes):
            loop.call_soon_threadsafe(self._schedule_sync)

    def _schedule_sync(self) -> None:
        if not self._sync_pending:
            self._sync_pending = True
            self._spawn(self.sync())

    async def sync(self) -> None:
        """Validate the stored policies, move them along their life cycle, load the live ones."""
        async with self._sync_lock:
            self._sync_pending = False
            try:
                await asyncio.to_thread(self._store.run, self._settle_all)
            except Exception:
                log.exception("could not load the policies; trying again in %s s", RESYNC_S)
                asyncio.get_running_loop().call_later(RESYNC_S, self._schedule_sync)

    def _settle_all(self, repo: Repository) -> None:
        """Load the valid, enabled policies (before their status says active, so none
        shown active misses an event), then write each one's status."""
        verdicts = []
        for policy in repo.policies.list():
            problem, rule_id = validate_policy(repo, policy) if policy.enabled else (None, None)
            verdicts.append((policy, problem, rule_id))
        self._live = {
            policy.id: (policy, rule_id)
            for policy, problem, rule_id in verdicts
            if policy.enabled and problem is None
        }
        self._topics = frozenset(_topic(policy) for policy, _ in self._live.values())
        for policy, problem, _ in verdicts:
            if not policy.enabled:
                self._set_status(repo, policy, PolicyState.DISABLED)
            elif problem is not None:
                self._set_status(repo, policy, PolicyState.FAILED, str(problem))
            elif policy.status not in LIVE:
                validated = self._set_status(repo, policy, PolicyState.VALIDATED)
                self._set_status(repo, validated, PolicyState.ACTIVE)

    @staticmethod
    def _set_status(
        repo: Repository, policy: Policy, status: PolicyState, reason: str | None = None
    ) -> Policy:
        if policy.status is status and policy.status_reason == reason:
            return policy
        return repo.policies.update(
            policy.model_copy(update={"status": status, "status_reason": reason})
        )

    # -- triggers -----------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """In the publisher's thread: hand the events some live policy listens to over to
        the engine's loop, ignore the rest at once."""
        loop = self._loop
        if loop is not None and event.type.value in self._topics:
            loop.call_soon_threadsafe(self._spawn, self._handle(event))

    async def _handle(self, event: Event) -> None:
        for policy, rule_id in list(self._live.values()):
            if self._triggered(policy, rule_id, event):
                await self._fire(policy, event)

    def _triggered(self, policy: Policy, rule_id: str | None, event: Event) -> bool:
        trigger = policy.trigger
        if isinstance(trigger, AlarmTrigger):
            return event.type is EventType.ALARM_RAISED and event.data.get("rule_id") == rule_id
        if event.type.value != trigger.event or not _has(event, trigger):
            return False
        now = self._clock()
        seen = self._counts.setdefault((policy.id, event.entity_id), deque())
        seen.append(now)
        while seen and seen[0] < now - trigger.within_s:
            seen.popleft()
        if len(seen) < trigger.count:
            return False
        seen.clear()
        return True

    async def _fire(self, policy: Policy, event: Event) -> None:
        target = await asyncio.to_thread(self._target_in_scope, policy, event)
        if target is None:
            return
        key, now = (policy.id, target.label), self._clock()
        since = self._held_since.get(key)
        if since is not None and now - since < policy.hold_down_s:
            left = policy.hold_down_s - (now - since)
            self._spawn(
                self._audit(
                    policy,
                    event,
                    target,
                    "hold_down",
                    1,
                    AuditResult.HELD_DOWN,
                    f"{left:.1f} s left",
                )
            )
            return
        self._held_since[key] = now
        self._spawn(self._enforce(policy, event, target))

    def _target_in_scope(self, policy: Policy, event: Event) -> Target | None:
        with self._store.read() as repo:
            target = target_of(repo, event)
            return target if in_scope(repo, policy, target) else None

    # -- actions ------------------------------------------------------------------------

    async def _enforce(self, policy: Policy, event: Event, target: Target) -> None:
        ctx = ActionContext(self._store, self._bus, self._client, policy, event, target)
        for action in policy.actions:
            if not await self._attempt(action, ctx):
                return
            if policy.status is not PolicyState.ENFORCED:
                policy = await asyncio.to_thread(self._store.run, self._mark_enforced(policy.id))

    @staticmethod
    def _mark_enforced(policy_id: str) -> Callable[[Repository], Policy]:
        def mark(repo: Repository) -> Policy:
            policy = repo.policies.get(policy_id)
            if policy.status is PolicyState.ACTIVE:
                policy = repo.policies.update(
                    policy.model_copy(update={"status": PolicyState.ENFORCED})
                )
            return policy

        return mark

    async def _attempt(self, action: PolicyAction, ctx: ActionContext) -> bool:
        """Run `action` until it succeeds or `max_attempts` runs out; audit each try."""
        attempts = ctx.policy.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                detail = await run_action(action, ctx)
            except Exception as error:
                last = attempt == attempts
                result = AuditResult.FAILED if last else AuditResult.RETRYING
                reason = str(error) or type(error).__name__
                await self._audit(
                    ctx.policy, ctx.trigger, ctx.target, action.type, attempt, result, reason
                )
                if last:
                    return False
                await self._sleep(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))
                continue
            await self._audit(
                ctx.policy, ctx.trigger, ctx.target, action.type, attempt, AuditResult.OK, detail
            )
            return True
        return False

    async def _audit(
        self,
        policy: Policy,
        event: Event,
        target: Target,
        action: str,
        attempt: int,
        result: AuditResult,
        detail: str,
    ) -> None:
        entry_id, at = str(uuid.uuid4()), datetime.now(UTC)
        entry = AuditEntry(
            id=entry_id,
            name=audit_name(at, entry_id),
            policy_id=policy.id,
            actor=f"policy/{policy.name}",
            action=action,
            target=target.label,
            trigger=f"{event.type.value} {event.entity_id}",
            attempt=attempt,
            result=result,
            detail=detail,
            time=at,
        )
        try:
            await asyncio.to_thread(self._store.run, lambda repo: repo.audit.add(entry))
        except Exception:
            log.exception("could not store the audit entry %s", entry)
        self._bus.publish(
            Event(
                type=EventType.POLICY_ACTION,
                entity_id=policy.id,
                data=entry.model_dump(mode="json"),
            )
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("policy work failed", exc_info=error)


def _topic(policy: Policy) -> str:
    trigger = policy.trigger
    return EventType.ALARM_RAISED.value if isinstance(trigger, AlarmTrigger) else trigger.event


def _has(event: Event, trigger: EventTrigger) -> bool:
    return all(str(event.data.get(k)) == v for k, v in trigger.where.items())
