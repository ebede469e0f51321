"""Apply or delete a batch of rules atomically: one ONF bundle, then a barrier.

Flow-mods and group-mods of a batch go into one bundle (atomic, ordered), sent
pipelined in chunks without awaiting each message. Open vSwitch validates each message
when it is added and rejects bad ones alone, so a barrier after the adds collects those
errors and the bundle is discarded when there is any; otherwise it is committed, and
a commit failure names the message that failed.

Every rule is validated and encoded in one pass before anything is sent, keeping only
the encoded message: nothing reaches the switch when any rule is invalid, and the
typed payloads die young (a batch of 100k rules holding them all alive spent a third
of its time in the garbage collector).

Open vSwitch does not take meter-mods in bundles, so meters are set just before the
bundle (add or modify, after reading which exist) and restored when the batch fails,
and deleted just after it (flows using a meter are deleted first).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from netweave.drivers.contract import BATCH_ABORTED, RuleResult
from netweave.drivers.openflow import codec, readback, wire
from netweave.drivers.openflow.rules import (
    FlowRule,
    MeterRule,
    RulePayloadError,
    cookie_for,
    parse_rule,
    rule_key,
)
from netweave.drivers.openflow.session import Session, SwitchError
from netweave.gcpause import gc_paused
from netweave.model import ConfigRule

_CHUNK = 1024  # bundle-adds written per drain
log = logging.getLogger(__name__)


@dataclass
class _Outcome:
    """Per-rule failures (by batch index) and a failure of the batch as a whole."""

    errors: dict[int, str] = field(default_factory=dict)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.failure is None


@dataclass
class _Batch:
    """A validated batch: its bundle messages (rule `i` has xid ``xids[i]``) and meters."""

    bundle_id: int
    xids: range
    groups: list[bytes] = field(default_factory=list)
    flows: list[bytes] = field(default_factory=list)
    meters: list[tuple[int, MeterRule]] = field(default_factory=list)


def _prepare(session: Session, rules: Sequence[ConfigRule], *, delete: bool) -> _Batch | _Outcome:
    """The encoded batch, or the errors of its invalid rules (bad value, non-canonical key)."""
    batch = _Batch(session.next_bundle_id(), session.reserve_xids(len(rules)))
    invalid = _Outcome()
    for index, rule in enumerate(rules):
        try:
            payload = parse_rule(rule.value)
        except RulePayloadError as exc:
            invalid.errors[index] = str(exc)
            continue
        key = rule_key(payload)
        if rule.key != key:
            invalid.errors[index] = f"key: {rule.key!r} does not match its value; expected {key!r}"
        elif invalid.errors:
            continue  # the batch is lost: only look for further invalid rules
        elif isinstance(payload, MeterRule):
            batch.meters.append((index, payload))
        elif isinstance(payload, FlowRule):
            message = wire.flow_mod(payload, cookie_for(key), batch.xids[index], delete=delete)
            batch.flows.append(wire.bundle_add(batch.bundle_id, message))
        else:
            message = wire.group_mod(payload, batch.xids[index], delete=delete)
            batch.groups.append(wire.bundle_add(batch.bundle_id, message))
    return invalid if invalid.errors else batch


def _results(rules: Sequence[ConfigRule], outcome: _Outcome) -> list[RuleResult]:
    """One result per rule: the failing ones carry their reason, the others why aborted."""
    if outcome.ok:
        with gc_paused():
            return [RuleResult(rule_id=rule.id, ok=True) for rule in rules]
    if outcome.errors:
        first = min(outcome.errors)
        cause = f"rule {rules[first].id} failed: {outcome.errors[first]}"
    else:
        cause = str(outcome.failure)
    return [
        RuleResult(
            rule_id=rule.id, ok=False, error=outcome.errors.get(i, f"{BATCH_ABORTED} ({cause})")
        )
        for i, rule in enumerate(rules)
    ]


async def apply(session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
    batch = _prepare(session, rules, delete=False)
    if isinstance(batch, _Outcome):
        return _results(rules, batch)
    undo: list[bytes] = []
    outcome = await _set_meters(session, batch.meters, undo)
    if outcome.ok:
        outcome = await _bundle(session, batch, [*batch.groups, *batch.flows])
    if not outcome.ok and undo:
        await _restore(session, undo)
    return _results(rules, outcome)


async def delete(session: Session, rules: Sequence[ConfigRule]) -> list[RuleResult]:
    batch = _prepare(session, rules, delete=True)
    if isinstance(batch, _Outcome):
        return _results(rules, batch)
    outcome = await _bundle(session, batch, [*batch.flows, *batch.groups])
    if outcome.ok:
        deletes = [(i, wire.meter_mod(m, 0, wire.OFPMC_DELETE)) for i, m in batch.meters]
        outcome = await _unbundled(session, deletes)
    return _results(rules, outcome)


async def _bundle(session: Session, batch: _Batch, messages: list[bytes]) -> _Outcome:
    """Send `messages` (bundle-adds of `batch`) as one bundle and commit it if all pass."""
    if not messages:
        return _Outcome()
    outcome = _Outcome()
    with session.collect_errors(batch.xids) as errors:
        opening = wire.bundle_control(batch.bundle_id, wire.BUNDLE_OPEN, session.next_xid())
        try:
            await session.request(opening)
        except SwitchError as exc:  # e.g. a switch without the ONF bundle extension
            return _Outcome(failure=f"bundle refused: {exc}")
        for start in range(0, len(messages), _CHUNK):
            session.send(b"".join(messages[start : start + _CHUNK]))
            await session.drain()
        await session.barrier()
        control = wire.BUNDLE_DISCARD if errors else wire.BUNDLE_COMMIT
        try:
            await session.request(wire.bundle_control(batch.bundle_id, control, session.next_xid()))
        except SwitchError as exc:
            outcome.failure = f"bundle commit failed: {exc}"
    outcome.errors = {xid - batch.xids.start: reason for xid, reason in errors.items()}
    return outcome


async def _set_meters(
    session: Session, meters: list[tuple[int, MeterRule]], undo: list[bytes]
) -> _Outcome:
    """Add or modify `meters`; `undo` receives what restores the previous meters."""
    if not meters:
        return _Outcome()
    existing: dict[int, MeterRule | None] = {}
    for entry in await session.multipart(codec.meter_config_request(), readback.table_entries):
        try:
            meter = readback.meter_rule(entry)
            existing[meter.meter_id] = meter
        except ValueError:  # a meter netweave did not make: replaced, cannot be restored
            existing[readback.meter_id(entry)] = None
    messages = []
    restore = []
    for index, meter in meters:
        if meter.meter_id not in existing:
            messages.append((index, wire.meter_mod(meter, 0, wire.OFPMC_ADD)))
            restore.append(wire.meter_mod(meter, 0, wire.OFPMC_DELETE))
            continue
        messages.append((index, wire.meter_mod(meter, 0, wire.OFPMC_MODIFY)))
        before = existing[meter.meter_id]
        restore.append(b"" if before is None else wire.meter_mod(before, 0, wire.OFPMC_MODIFY))
    outcome = await _unbundled(session, messages)
    undo.extend(
        u
        for (index, _), u in zip(messages, restore, strict=True)
        if u and index not in outcome.errors
    )
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


async def _restore(session: Session, messages: list[bytes]) -> None:
    """Put the meters a failed batch changed back; what cannot be is left to resync."""
    outcome = await _unbundled(session, list(enumerate(messages)))
    if not outcome.ok:
        log.warning("switch %s: meters not restored: %s", session.datapath_id, outcome.errors)
