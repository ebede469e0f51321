"""Apply or delete a batch of rules atomically: one ONF bundle, then a barrier.

Flow-mods and group-mods of a batch go into one bundle (atomic, ordered), sent
pipelined in chunks without awaiting each message. Open vSwitch validates each message
when it is added and rejects bad ones alone, so a barrier after the adds collects those
errors and the bundle is discarded when there is any; otherwise it is committed, and
a commit failure names the message that failed.

Open vSwitch does not take meter-mods in bundles, so meters are set just before the
bundle (add or modify, after reading which exist) and restored when the batch fails,
and deleted just after it (flows using a meter are deleted first).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from netweave.drivers.contract import RuleResult
from netweave.drivers.openflow import codec, wire
from netweave.drivers.openflow.rules import (
    FlowRule,
    GroupRule,
    MeterRule,
    RulePayloadError,
    cookie_for,
    parse_rule,
    rule_key,
)
from netweave.drivers.openflow.session import Session, SwitchError
from netweave.model import ConfigRule

TypedRule = FlowRule | GroupRule | MeterRule
_CHUNK = 1024  # bundle-adds written per drain


@dataclass
class _Outcome:
    """Per-rule failures (by batch index) and a failure of the batch as a whole."""

    errors: dict[int, str] = field(default_factory=dict)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.failure is None


def validate(rules: Sequence[ConfigRule]) -> tuple[list[TypedRule], dict[int, str]]:
    """Typed payloads, and an error per invalid rule (bad value, or a non-canonical key)."""
    typed: list[TypedRule] = []
    errors: dict[int, str] = {}
    for index, rule in enumerate(rules):
        try:
            payload = parse_rule(rule.value)
        except RulePayloadError as exc:
            errors[index] = str(exc)
            continue
        expected = rule_key(payload)
        if rule.key != expected:
            errors[index] = f"key: {rule.key!r} does not match its value; expected {expected!r}"
        typed.append(payload)
    return typed, errors


def results(rules: Sequence[ConfigRule], outcome: _Outcome) -> list[RuleResult]:
    """One result per rule: the failing ones carry their reason, the others why aborted."""
    if outcome.ok:
        return [RuleResult(rule_id=rule.id, ok=True) for rule in rules]
    if outcome.errors:
        first = min(outcome.errors)
        cause = f"rule {rules[first].id} failed: {outcome.errors[first]}"
    else:
        cause = str(outcome.failure)
    return [
        RuleResult(
            rule_id=rule.id, ok=False, error=outcome.errors.get(i, f"batch aborted ({cause})")
        )
        for i, rule in enumerate(rules)
    ]


async def apply(session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
    with _gc_paused():
        return await _apply(session, rules)


async def delete(session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
    with _gc_paused():
        return await _delete(session, rules)


async def _apply(session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
    typed, invalid = validate(rules)
    if invalid:
        return results(rules, _Outcome(errors=invalid))
    meters = [(i, r) for i, r in enumerate(typed) if isinstance(r, MeterRule)]
    groups = [(i, r) for i, r in enumerate(typed) if isinstance(r, GroupRule)]
    flows = [(i, r) for i, r in enumerate(typed) if isinstance(r, FlowRule)]
    undo: list[bytes] = []
    outcome = await _set_meters(session, meters, undo)
    if outcome.ok:
        outcome = await _bundle(session, [*groups, *flows], rules, delete=False)
    if not outcome.ok and undo:
        await _send_all(session, undo)
    return results(rules, outcome)


async def _delete(session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
    typed, invalid = validate(rules)
    if invalid:
        return results(rules, _Outcome(errors=invalid))
    flows = [(i, r) for i, r in enumerate(typed) if isinstance(r, FlowRule)]
    groups = [(i, r) for i, r in enumerate(typed) if isinstance(r, GroupRule)]
    outcome = await _bundle(session, [*flows, *groups], rules, delete=True)
    if outcome.ok:
        deletes = [
            (i, wire.meter_mod(r, 0, wire.OFPMC_DELETE))
            for i, r in enumerate(typed)
            if isinstance(r, MeterRule)
        ]
        outcome = await _unbundled(session, deletes)
    return results(rules, outcome)


async def _bundle(
    session: Session,
    items: list[tuple[int, FlowRule | GroupRule]],
    rules: Sequence[ConfigRule],
    *,
    delete: bool,
) -> _Outcome:
    if not items:
        return _Outcome()
    bundle_id = session.next_bundle_id()
    xids = session.reserve_xids(len(items))
    outcome = _Outcome()
    with session.collect_errors(xids) as errors:
        await session.request(wire.bundle_control(bundle_id, wire.BUNDLE_OPEN, session.next_xid()))
        for start in range(0, len(items), _CHUNK):
            chunk = [
                wire.bundle_add(bundle_id, _encode(rule, rules[index].key, xid, delete))
                for xid, (index, rule) in zip(
                    xids[start : start + _CHUNK], items[start : start + _CHUNK], strict=True
                )
            ]
            session.send(b"".join(chunk))
            await session.drain()
        await session.barrier()
        control = wire.BUNDLE_DISCARD if errors else wire.BUNDLE_COMMIT
        try:
            await session.request(wire.bundle_control(bundle_id, control, session.next_xid()))
        except SwitchError as exc:
            outcome.failure = f"bundle commit failed: {exc}"
    outcome.errors = {items[xid - xids.start][0]: reason for xid, reason in errors.items()}
    return outcome


def _encode(rule: FlowRule | GroupRule, key: str, xid: int, delete: bool) -> bytes:
    if isinstance(rule, FlowRule):
        return wire.flow_mod(rule, cookie_for(key), xid, delete=delete)
    return wire.group_mod(rule, xid, delete=delete)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is built and sent.

    A batch allocates many short-lived objects (typed rules, messages) that live until
    it is confirmed; with the collector running, they trigger collections that rescan
    them and the whole heap (the caller's rules included). Measured here: validating
    10k rules took 14 µs each with the collector running, 8 µs without. Refcounting
    frees them at the end, so the paused collector finds little left to do.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _set_meters(
    session: Session, meters: list[tuple[int, MeterRule]], undo: list[bytes]
) -> _Outcome:
    """Add or modify `meters`; `undo` receives what restores the previous meters."""
    if not meters:
        return _Outcome()
    existing = {
        m.meter_id: codec.meter_rule(m)
        for m in await session.multipart(codec.meter_config_request())
    }
    messages = []
    for index, meter in meters:
        before = existing.get(meter.meter_id)
        command = wire.OFPMC_ADD if before is None else wire.OFPMC_MODIFY
        messages.append((index, wire.meter_mod(meter, 0, command)))
        if before is None:
            undo.append(wire.meter_mod(meter, 0, wire.OFPMC_DELETE))
        else:
            undo.append(wire.meter_mod(before, 0, wire.OFPMC_MODIFY))
    outcome = await _unbundled(session, messages)
    failed = {index for index, _ in meters} & outcome.errors.keys()
    undo[:] = [u for (index, _), u in zip(meters, undo, strict=True) if index not in failed]
    return outcome


async def _unbundled(session: Session, messages: list[tuple[int, bytes]]) -> _Outcome:
    """Send `messages` (their xids are replaced), barrier, and report their errors."""
    if not messages:
        return _Outcome()
    xids = session.reserve_xids(len(messages))
    with session.collect_errors(xids) as errors:
        for xid, (_, message) in zip(xids, messages, strict=True):
            session.send(message[:4] + xid.to_bytes(4, "big") + message[8:])
        await session.barrier()
    return _Outcome(errors={messages[xid - xids.start][0]: r for xid, r in errors.items()})


async def _send_all(session: Session, messages: list[bytes]) -> None:
    outcome = await _unbundled(session, list(enumerate(messages)))
    if not outcome.ok:
        raise SwitchError(f"could not restore meters: {outcome.errors}")
