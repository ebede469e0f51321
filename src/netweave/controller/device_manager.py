"""Device manager: one supervised driver session per managed device.

For every device in the store that names a driver we have, a session task connects
(retrying with backoff while the device is unreachable), writes the reported ports into
the topology, and reconciles the device's rules with the desired rules in the store:
after every (re)connect from the device's own state (resync), and after every store
commit touching the device's rules. Device events (port and device status) are written
to the store as they arrive; packet-ins are handed to packet listeners (discovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from netweave.batching import Batched
from netweave.controller.backoff import Backoff
from netweave.controller.rule_plan import RulePlan, plan_rules
from netweave.controller.topology_sync import (
    refresh_links,
    set_device_status,
    set_port_status,
    sync_ports,
)
from netweave.drivers import (
    DeviceStatusChanged,
    DeviceUnreachableError,
    Driver,
    DriverError,
    DriverEvent,
    DriverPlugin,
    PacketIn,
    PortStatusChanged,
    RuleResult,
)
from netweave.model import ConfigRule, Device, JsonObject, OperStatus, RuleAction, RuleStatus
from netweave.store import Change, Op, Repository, Store
from netweave.tasks import stop_task

log = logging.getLogger(__name__)

PacketListener = Callable[[PacketIn], None]


@dataclass(eq=False)
class Session:
    """The live state of one device's driver session."""

    device: Device
    driver: Driver
    observed: dict[str, JsonObject] = field(default_factory=dict)
    changed: dict[str, ConfigRule] = field(default_factory=dict)
    """Rules written since the last pass, as last seen (by id); see `_reconcile`."""
    full: bool = True
    """Compare everything (after a connect) instead of only the changed rules."""
    stale: bool = False
    """Read the device's rules again before the next pass (`resync`)."""
    connected: bool = False
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class DeviceManager:
    """Supervises driver sessions and keeps devices converged on the store."""

    def __init__(
        self,
        store: Store,
        plugins: Mapping[str, DriverPlugin],
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self._plugins = dict(plugins)
        self._backoff = backoff or Backoff()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, Session] = {}
        self._packet_listeners: list[PacketListener] = []
        self._own_write = threading.local()
        self._loop: asyncio.AbstractEventLoop | None = None
        # The sessions woken by one commit read and record together: one transaction.
        self._fetch = Batched(self._fetch_all)
        self._record = Batched(self._record_all)
        self._in_flight: Counter[str] = Counter()  # rules on their way to devices, by owner

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for plugin in self._plugins.values():
            await plugin.start()
        self._store.on_commit(self._on_commit)
        with self._store.read() as repo:
            devices = repo.devices.list()
        for device in devices:
            self._ensure_session(device)

    async def stop(self) -> None:
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await self._end_session(session)
        for plugin in self._plugins.values():
            await plugin.stop()

    # -- public queries ----------------------------------------------------------------
    def driver(self, device_id: str) -> Driver | None:
        session = self._sessions.get(device_id)
        return session.driver if session and session.connected else None

    def connected_devices(self) -> list[Device]:
        return [s.device for s in self._sessions.values() if s.connected]

    def on_packet(self, listener: PacketListener) -> None:
        self._packet_listeners.append(listener)

    def resync(self, device_id: str) -> None:
        """Compare every desired rule of the device with what it holds, now (as after
        a reconnect), e.g. when something may have changed its tables behind our back."""
        session = self._sessions.get(device_id)
        if session is not None:
            session.full = session.stale = True
            session.dirty.set()

    # -- store changes -------------------------------------------------------------------
    def _on_commit(self, changes: list[Change]) -> None:
        if getattr(self._own_write, "active", False) or self._loop is None:
            return
        if self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._handle_changes(changes)
        else:
            self._loop.call_soon_threadsafe(self._handle_changes, changes)

    def _handle_changes(self, changes: list[Change]) -> None:
        dirty: set[str] = set()
        for change in changes:
            if change.kind == "device":
                device = change.entity
                assert isinstance(device, Device)
                if change.op == Op.DELETED:
                    session = self._sessions.pop(device.id, None)
                    if session is not None:
                        self._spawn(self._end_session(session))
                else:
                    self._ensure_session(device)
            elif change.kind == "config_rule":
                rule = change.entity
                assert isinstance(rule, ConfigRule)
                session = self._sessions.get(rule.device_id)
                if session is not None:
                    session.changed[rule.id] = rule
                    dirty.add(rule.device_id)
        for device_id in dirty:
            self._sessions[device_id].dirty.set()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Repository]:
        """Our own writes: their commits must not wake our own sessions again."""
        self._own_write.active = True
        try:
            with self._store.transaction() as repo:
                yield repo
        finally:
            self._own_write.active = False

    # -- sessions -------------------------------------------------------------------------
    def _plugin_for(self, device: Device) -> DriverPlugin | None:
        return next((self._plugins[n] for n in device.drivers if n in self._plugins), None)

    def _ensure_session(self, device: Device) -> None:
        if device.id in self._sessions:
            self._sessions[device.id].device = device
            return
        plugin = self._plugin_for(device)
        if plugin is None:
            return
        session = Session(device=device, driver=plugin.create(device))
        session.task = self._spawn(self._run(session))
        self._sessions[device.id] = session

    def _spawn(self, work: Coroutine[None, None, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _end_session(self, session: Session) -> None:
        await stop_task(session.task)
        with contextlib.suppress(DriverError):
            await session.driver.disconnect()

    async def _run(self, session: Session) -> None:
        unsubscribe = session.driver.subscribe(lambda event: self._on_event(session, event))
        try:
            while True:
                await self._connect(session)
                await self._serve(session)
        finally:
            unsubscribe()

    async def _connect(self, session: Session) -> None:
        for delay in self._backoff.delays():
            try:
                await session.driver.connect()
                state = await session.driver.get_state()
            except DeviceUnreachableError as exc:
                log.debug("%s unreachable: %s; retrying in %.1fs", session.device.name, exc, delay)
                await asyncio.sleep(delay)
                continue
            session.observed = dict(state.rules)
            session.connected = True
            with self._writing() as repo:
                refresh_links(repo, sync_ports(repo, session.device, state.ports))
                set_device_status(repo, session.device.id, OperStatus.UP)
            log.info("%s connected (%d ports)", session.device.name, len(state.ports))
            return

    async def _serve(self, session: Session) -> None:
        session.full = True  # resync after every (re)connect
        session.dirty.set()
        delays = self._backoff.delays()
        while session.connected:
            await session.dirty.wait()
            session.dirty.clear()
            if not session.connected:
                break
            try:
                await self._reconcile(session)
            except DeviceUnreachableError:
                session.connected = False
                break
            except Exception:  # the store or the driver failed: all over again, later
                delay = next(delays)
                log.exception(
                    "%s: reconciliation failed; again in %.1fs", session.device.name, delay
                )
                session.full = session.stale = True
                await asyncio.sleep(delay)
                session.dirty.set()
            else:
                delays = self._backoff.delays()
        with self._writing() as repo:
            set_device_status(repo, session.device.id, OperStatus.DOWN)

    def _on_event(self, session: Session, event: DriverEvent) -> None:
        if isinstance(event, PortStatusChanged):
            with self._writing() as repo:
                set_port_status(repo, session.device, event.port)
        elif isinstance(event, DeviceStatusChanged):
            if event.status == OperStatus.DOWN and session.connected:
                session.connected = False
                session.dirty.set()
        else:
            for listener in self._packet_listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("packet listener failed")

    # -- rule reconciliation ------------------------------------------------------------------
    async def _reconcile(self, session: Session) -> None:
        """One pass. After a connect every desired rule is compared with the device's
        (foreign netweave rules removed); otherwise only the rules written since the
        last pass are, so a pass costs what changed, not what the device holds."""
        device_id = session.device.id
        changed, session.changed = session.changed, {}
        full, session.full = session.full, False
        if session.stale:
            session.stale = False
            session.observed = dict((await session.driver.get_state()).rules)
        if full:
            with self._store.read() as repo:
                desired = repo.rules.list(device_id=device_id)
        else:
            current = await self._fetch(changed)
            # A row its owner deleted outright is removed from the device too.
            desired = [
                current[rule_id]
                if rule_id in current
                else gone.model_copy(update={"action": RuleAction.DELETE})
                for rule_id, gone in changed.items()
            ]
        plan = plan_rules(device_id, desired, session.observed, foreign=full)
        if plan.empty:
            return
        self._in_flight.update(plan.owners())
        try:
            removed = await self._remove(session, plan.remove)
            applied = await self._apply(session, plan.apply)
        except BaseException:
            self._in_flight.subtract(plan.owners())
            raise
        await self._record(_Answers(plan, removed, applied))

    async def _remove(self, session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        if not rules:
            return []
        results = await session.driver.delete(rules)
        for rule, result in zip(rules, results, strict=True):
            if result.ok:
                session.observed.pop(rule.key, None)
        return results

    async def _apply(self, session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        if not rules:
            return []
        results = await session.driver.apply(rules)
        for rule, result in zip(rules, results, strict=True):
            if result.ok:
                session.observed[rule.key] = rule.value
        return results

    def _fetch_all(self, wanted: list[dict[str, ConfigRule]]) -> list[dict[str, ConfigRule]]:
        """The stored version of the rules each session saw change (one read for all)."""
        with self._store.read() as repo:
            current = repo.rules.find_many({rule_id for ids in wanted for rule_id in ids})
        return [{i: current[i] for i in ids if i in current} for ids in wanted]

    def _record_all(self, answers: list[_Answers]) -> list[None]:
        """Write the devices' answers back, for every session at once: statuses, errors,
        and drop deleted rows.

        Only rules still as they were planned are touched: one that its owner changed
        while the device worked keeps the owner's version and is reconciled again. The
        owners with rules still on their way to other devices are told to whoever
        listens (`Repository.expect_answers`), so they need not look before the last.
        """
        for answer in answers:
            self._in_flight.subtract(answer.plan.owners())
        self._in_flight = +self._in_flight  # drop the owners at zero
        replies = [reply for answer in answers for reply in answer.replies()]
        confirmed = [rule for answer in answers for rule in answer.plan.confirmed]
        with self._writing() as repo:
            repo.expect_answers(self._in_flight)
            current = repo.rules.find_many(
                [rule.id for rule, _ in replies] + [rule.id for rule in confirmed]
            )

            def as_planned(rule: ConfigRule) -> ConfigRule | None:
                now = current.get(rule.id)
                same = now is not None and (now.action, now.value) == (rule.action, rule.value)
                return now if same else None

            deleted: list[str] = []
            applied: list[ConfigRule] = []
            refused: list[tuple[ConfigRule, ConfigRule, str | None]] = []
            for rule, result in replies:
                now = as_planned(rule)
                if now is None:
                    continue  # its owner changed it meanwhile: reconciled again
                if not result.ok:
                    refused.append((rule, now, result.error))
                elif rule.action == RuleAction.DELETE:
                    deleted.append(rule.id)
                else:
                    applied.append(now)
            applied += [now for now in map(as_planned, confirmed) if now is not None]
            repo.rules.delete_many(deleted)
            repo.rules.mark(applied, RuleStatus.APPLIED)
            for rule, now, error in refused:
                status = RuleStatus.FAILED if rule.action == RuleAction.SET else rule.status
                repo.rules.mark([now], status, error)
        return [None] * len(answers)


@dataclass(frozen=True)
class _Answers:
    """A device's answers to one pass's plan."""

    plan: RulePlan
    removed: list[RuleResult]
    applied: list[RuleResult]

    def replies(self) -> list[tuple[ConfigRule, RuleResult]]:
        return [
            *zip(self.plan.remove, self.removed, strict=True),
            *zip(self.plan.apply, self.applied, strict=True),
        ]
