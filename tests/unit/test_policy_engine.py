"""The ECA policy engine: life cycle, the congestion / flap / SLA policies, hold-down,
retries with backoff, the audit trail, webhooks delivered to a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from netweave.assurance import EmbeddedTSDB, SampleBatch, series_key
from netweave.bus import InProcessBus
from netweave.inventory import Invalid, Inventory, load_descriptor, publish_changes
from netweave.inventory.inputs import ServiceCreate
from netweave.model import (
    Alarm,
    AlarmRule,
    AuditEntry,
    AuditResult,
    Event,
    EventType,
    OperStatus,
    PolicySpec,
    PolicyState,
)
from netweave.model.ids import endpoint_id, link_id, service_id
from netweave.policy import AlarmService, PolicyEngine
from netweave.policy.admin import Assurance
from netweave.services import connection_id
from netweave.store import Store
from netweave.testing import eventually

HOT = "link-hot"
T0 = 1_700_000_000 * 1_000_000_000
S3_ETH1 = endpoint_id("s3", "eth1")


class Hooks:
    """A local webhook receiver: answers each POST with the next of `statuses` (then
    200) and keeps the JSON bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hooks.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hooks.statuses.pop(0) if hooks.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


# s1 - s2 - s3 - s4 - s1, the way over s4 dearer; h1 on s1, h2 and h4 on s3, h3 on s2.
SQUARE = """
name: square
devices:
- {name: s1, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2},
                                         {name: eth3, number: 3}]}
- {name: s2, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2},
                                         {name: eth3, number: 3}]}
- {name: s3, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2},
                                         {name: eth3, number: 3}, {name: eth4, number: 4}]}
- {name: s4, drivers: [emulated], ports: [{name: eth1, number: 1}, {name: eth2, number: 2}]}
- {name: h1, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:01'}
- {name: h2, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:02'}
- {name: h3, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:03'}
- {name: h4, type: host, ports: [{name: eth0}], mac: '00:00:00:00:00:04'}
links:
- {name: s1-s2, a: {device: s1, port: eth1}, b: {device: s2, port: eth1}}
- {name: s2-s3, a: {device: s2, port: eth2}, b: {device: s3, port: eth1}}
- {name: s3-s4, a: {device: s3, port: eth2}, b: {device: s4, port: eth1}, cost: 2}
- {name: s4-s1, a: {device: s4, port: eth2}, b: {device: s1, port: eth2}, cost: 2}
- {name: h1-s1, a: {device: h1, port: eth0}, b: {device: s1, port: eth3}}
- {name: h2-s3, a: {device: h2, port: eth0}, b: {device: s3, port: eth3}}
- {name: h3-s2, a: {device: h3, port: eth0}, b: {device: s2, port: eth3}}
- {name: h4-s3, a: {device: h4, port: eth0}, b: {device: s3, port: eth4}}
"""


def network(store: Store) -> None:
    """The square with service a (h1-h2, over s1-s2-s3), b (h3-h4, over s2-s3), a rule."""
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(load_descriptor(SQUARE, "square")[0])
    for name, a, b in (("a", "h1", "h2"), ("b", "h3", "h4")):
        ends = [{"device": host, "endpoint": "eth0"} for host in (a, b)]
        inventory.create_service(ServiceCreate.model_validate({"name": name, "endpoints": ends}))
    with store.transaction() as repo:
        repo.alarm_rules.add(AlarmRule(id="hot", name=HOT, metric="link.utilisation", threshold=80))


def path(store: Store, service: str) -> list[str]:
    with store.read() as repo:
        names = {link.id: link.name for link in repo.links.list()}
        found = repo.connections.get(connection_id(service_id(service)))
    return [names[i] for i in found.link_ids if "h" not in names[i]]


def alarm_on(link: str) -> Event:
    alarm = Alarm(
        id=f"alarm-{link}",
        name=f"alarm-{link}",
        rule_id="hot",
        rule_name=HOT,
        tags={"link": link},
        raised_at=datetime.now(UTC),
    )
    return Event(
        type=EventType.ALARM_RAISED, entity_id=alarm.id, data=alarm.model_dump(mode="json")
    )


def spec(name: str, **fields: Any) -> PolicySpec:
    base = {"name": name, "trigger": {"on": "alarm", "alarm_rule": HOT}}
    return PolicySpec.model_validate(base | fields)


@pytest.fixture
async def engine(store: Store, bus: InProcessBus) -> AsyncIterator[PolicyEngine]:
    network(store)
    running = PolicyEngine(store, bus, backoff_s=0.01)
    await running.start()
    yield running
    await running.stop()


def status(store: Store, name: str) -> PolicyState:
    with store.read() as repo:
        found = repo.policies.find_by_name(name)
    assert found is not None
    return found.status


def audit(store: Store, name: str) -> list[AuditEntry]:
    return Assurance(store).audit(name)


def excluded(store: Store, service: str) -> list[str]:
    with store.read() as repo:
        return repo.services.get(service_id(service)).constraints.exclude_links


async def test_life_cycle_inserted_validated_active_enforced(
    store: Store, bus: InProcessBus, engine: PolicyEngine
) -> None:
    seen: list[str] = []
    bus.subscribe("policy.status", lambda e: seen.append(e.data["status"]))
    publish_changes(store, bus)
    Assurance(store).create_policy(spec("congestion", actions=[{"type": "reroute_avoiding"}]))
    await eventually(lambda: status(store, "congestion") is PolicyState.ACTIVE)
    bus.publish(alarm_on("s1-s2"))
    await eventually(lambda: status(store, "congestion") is PolicyState.ENFORCED)
    assert seen == ["validated", "active", "enforced"]
    Assurance(store).set_enabled("congestion", False)
    await eventually(lambda: status(store, "congestion") is PolicyState.DISABLED)


async def test_a_policy_whose_rule_goes_away_fails_and_recovers_when_it_is_back(
    store: Store, engine: PolicyEngine
) -> None:
    assurance = Assurance(store)
    assurance.create_policy(spec("congestion", actions=[{"type": "reroute_avoiding"}]))
    await eventually(lambda: status(store, "congestion") is PolicyState.ACTIVE)
    assurance.delete_alarm_rule(HOT)
    await eventually(lambda: status(store, "congestion") is PolicyState.FAILED)
    assert assurance.get_policy("congestion").status_reason == (
        f"trigger.alarm_rule: no alarm rule {HOT!r}"
    )
    with store.transaction() as repo:
        repo.alarm_rules.add(AlarmRule(id="hot", name=HOT, metric="link.utilisation"))
    await eventually(lambda: status(store, "congestion") is PolicyState.ACTIVE)


async def test_congestion_reroutes_only_its_service_off_the_hot_link(
    store: Store, bus: InProcessBus, engine: PolicyEngine
) -> None:
    actions = [{"type": "reroute_avoiding"}]
    Assurance(store).create_policy(spec("congestion", services=["b"], actions=actions))
    await eventually(lambda: status(store, "congestion") is PolicyState.ACTIVE)
    bus.publish(alarm_on("s1-s2"))  # not on b: not its business
    bus.publish(alarm_on("s2-s3"))
    await eventually(lambda: len(audit(store, "congestion")) == 1)
    await engine.idle()
    assert excluded(store, "b") == [link_id("s2-s3")]
    assert path(store, "b") == ["s1-s2", "s4-s1", "s3-s4"]
    assert excluded(store, "a") == [] and path(store, "a") == ["s1-s2", "s2-s3"]
    [entry] = audit(store, "congestion")
    assert (entry.actor, entry.action, entry.target, entry.result) == (
        "policy/congestion",
        "reroute_avoiding",
        "link/s2-s3",
        AuditResult.OK,
    )
    assert entry.trigger == "alarm.raised alarm-s2-s3" and "b" in entry.detail


async def test_a_device_policy_acts_on_its_devices_links_only(
    store: Store, bus: InProcessBus, engine: PolicyEngine
) -> None:
    actions = [{"type": "raise_event", "name": "S4_HOT"}]
    Assurance(store).create_policy(spec("s4", devices=["s4"], actions=actions))
    await eventually(lambda: status(store, "s4") is PolicyState.ACTIVE)
    bus.publish(alarm_on("s1-s2"))
    bus.publish(alarm_on("s3-s4"))
    await eventually(lambda: len(audit(store, "s4")) == 1)
    await engine.idle()
    assert [e.target for e in audit(store, "s4")] == ["link/s3-s4"]


async def test_hold_down_keeps_a_target_from_oscillating(
    store: Store, bus: InProcessBus, engine: PolicyEngine
) -> None:
    policy = spec("congestion", hold_down_s=60, actions=[{"type": "raise_event", "name": "HOT"}])
    Assurance(store).create_policy(policy)
    await eventually(lambda: status(store, "congestion") is PolicyState.ACTIVE)
    for _ in range(3):
        bus.publish(alarm_on("s2-s3"))
    await eventually(lambda: len(audit(store, "congestion")) == 3)
    await engine.idle()
    results = sorted(e.result for e in audit(store, "congestion"))
    assert results == [AuditResult.HELD_DOWN, AuditResult.HELD_DOWN, AuditResult.OK]
    bus.publish(alarm_on("s1-s2"))  # another target is not held down
    await eventually(lambda: len(audit(store, "congestion")) == 4)
    assert audit(store, "congestion")[-1].result is AuditResult.OK


async def test_failing_action_is_retried_with_backoff_and_audited(
    store: Store, bus: InProcessBus, hooks: Hooks
) -> None:
    network(store)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    engine = PolicyEngine(store, bus, backoff_s=0.25, max_backoff_s=0.4, sleep=sleep)
    await engine.start()
    try:
        hooks.statuses = [500, 503, 502]
        webhook = {"type": "webhook", "url": hooks.url, "timeout_s": 1}
        Assurance(store).create_policy(spec("notify", actions=[webhook], max_attempts=4))
        await eventually(lambda: status(store, "notify") is PolicyState.ACTIVE)
        bus.publish(alarm_on("s1-s2"))
        await eventually(lambda: len(audit(store, "notify")) == 4)
    finally:
        await engine.stop()
    entries = audit(store, "notify")
    assert [(e.attempt, e.result) for e in entries] == [
        (1, AuditResult.RETRYING),
        (2, AuditResult.RETRYING),
        (3, AuditResult.RETRYING),
        (4, AuditResult.OK),
    ]
    assert "answered 500" in entries[0].detail and "answered 503" in entries[1].detail
    assert delays == [0.25, 0.4, 0.4]  # doubling, capped
    assert len(hooks.bodies) == 4 and hooks.bodies[-1]["policy"] == "notify"


async def test_an_action_that_keeps_failing_ends_failed_and_the_engine_goes_on(
    store: Store, bus: InProcessBus, engine: PolicyEngine, hooks: Hooks
) -> None:
    dead = {"type": "webhook", "url": "http://127.0.0.1:9/nobody", "timeout_s": 0.5}
    assurance = Assurance(store)
    assurance.create_policy(
        spec("dead", actions=[dead, {"type": "reroute_avoiding"}], max_attempts=2)
    )
    assurance.create_policy(spec("alive", actions=[{"type": "webhook", "url": hooks.url}]))
    await eventually(lambda: status(store, "dead") is PolicyState.ACTIVE)
    await eventually(lambda: status(store, "alive") is PolicyState.ACTIVE)
    bus.publish(alarm_on("s1-s2"))
    await eventually(lambda: len(audit(store, "dead")) == 2 and len(hooks.bodies) == 1)
    await engine.idle()
    assert [e.result for e in audit(store, "dead")] == [AuditResult.RETRYING, AuditResult.FAILED]
    assert excluded(store, "a") == []  # the actions after a failed one do not run
    assert status(store, "dead") is PolicyState.ACTIVE


async def test_a_service_with_no_other_way_is_left_alone_and_the_action_fails(
    store: Store, bus: InProcessBus, engine: PolicyEngine
) -> None:
    policy = spec("congestion", actions=[{"type": "reroute_avoiding"}], max_attempts=1)
    Assurance(store).create_policy(policy)
    await eventually(lambda: status(store, "congestion") is PolicyState.ACTIVE)
    bus.publish(alarm_on("h1-s1"))
    await eventually(lambda: len(audit(store, "congestion")) == 1)
    [entry] = audit(store, "congestion")
    assert entry.result is AuditResult.FAILED
    assert entry.detail == "service a: excludes the access link 'h1-s1'"
    assert excluded(store, "a") == [] and path(store, "a") == ["s1-s2", "s2-s3"]


async def test_a_flapping_port_drains_its_link(
    store: Store, bus: InProcessBus, engine: PolicyEngine
) -> None:
    trigger = {"on": "event", "event": "endpoint.status", "where": {"status": "down"}, "count": 3}
    Assurance(store).create_policy(spec("flap", trigger=trigger, actions=[{"type": "drain_link"}]))
    await eventually(lambda: status(store, "flap") is PolicyState.ACTIVE)
    for state in ("down", "up", "down", "up"):
        bus.publish(
            Event(type=EventType.ENDPOINT_STATUS, entity_id=S3_ETH1, data={"status": state})
        )
    await engine.idle()
    assert audit(store, "flap") == []  # twice down: not yet
    bus.publish(Event(type=EventType.ENDPOINT_STATUS, entity_id=S3_ETH1, data={"status": "down"}))
    await eventually(lambda: len(audit(store, "flap")) == 1)
    [entry] = audit(store, "flap")
    assert entry.target == f"endpoint/{S3_ETH1}" and entry.result is AuditResult.OK
    with store.read() as repo:
        assert repo.links.get(link_id("s2-s3")).status is OperStatus.DOWN
    assert excluded(store, "a") == excluded(store, "b") == [link_id("s2-s3")]
    assert "s2-s3" not in path(store, "a") + path(store, "b")


async def test_sla_violation_raises_an_event_and_notifies_a_webhook(
    store: Store, bus: InProcessBus, engine: PolicyEngine, hooks: Hooks
) -> None:
    with store.transaction() as repo:
        repo.alarm_rules.add(
            AlarmRule(
                id="sla", name="sla", metric="service.throughput", comparison="lt", threshold=1e6
            )
        )
    notified: list[Event] = []
    bus.subscribe(EventType.POLICY_NOTIFICATION.value, notified.append)
    actions = [
        {"type": "raise_event", "name": "SLA_VIOLATED"},
        {"type": "webhook", "url": hooks.url},
    ]
    policy = spec(
        "sla", trigger={"on": "alarm", "alarm_rule": "sla"}, services=["a"], actions=actions
    )
    Assurance(store).create_policy(policy)
    await eventually(lambda: status(store, "sla") is PolicyState.ACTIVE)
    alarm = alarm_on("x").model_copy(update={"data": {"rule_id": "sla", "tags": {"service": "a"}}})
    bus.publish(alarm)
    await eventually(lambda: len(audit(store, "sla")) == 2)
    assert [e.data["name"] for e in notified] == ["SLA_VIOLATED"]
    assert hooks.bodies[0]["target"] == "service/a"
    assert [e.action for e in audit(store, "sla")] == ["raise_event", "webhook"]


def test_bad_policies_name_the_field(store: Store) -> None:
    network(store)
    assurance = Assurance(store)
    cases = [
        (
            spec(
                "p", trigger={"on": "alarm", "alarm_rule": "nope"}, actions=[{"type": "drain_link"}]
            ),
            "trigger.alarm_rule: no alarm rule 'nope'",
        ),
        (
            spec("p", services=["ghost"], actions=[{"type": "drain_link"}]),
            "services[0]: no service 'ghost'",
        ),
        (
            spec("p", devices=["s1", "ghost"], actions=[{"type": "drain_link"}]),
            "devices[1]: no device 'ghost'",
        ),
        (
            spec(
                "p",
                trigger={"on": "event", "event": "link.exploded"},
                actions=[{"type": "drain_link"}],
            ),
            "trigger.event: 'link.exploded' is not one of",
        ),
        (
            spec(
                "p",
                trigger={"on": "event", "event": "device.status"},
                actions=[{"type": "drain_link"}],
            ),
            "actions[0]: drain_link needs a link or endpoint event",
        ),
    ]
    for bad, message in cases:
        with pytest.raises(Invalid) as caught:
            assurance.create_policy(bad)
        assert str(caught.value).startswith(message)
    assert assurance.list_policies() == []


async def test_alarm_rules_notify_their_webhooks(store: Store, hooks: Hooks) -> None:
    tsdb = EmbeddedTSDB(clock=lambda: T0)
    key = series_key("service.throughput", {"service": "a"})
    tsdb.write(SampleBatch.of([(key, T0, 10.0)]))
    rule = {"id": "sla", "name": "sla", "metric": "service.throughput", "comparison": "lt"}
    with store.transaction() as repo:
        repo.alarm_rules.add(
            AlarmRule.model_validate(rule | {"threshold": 1e6, "webhooks": [hooks.url]})
        )
    service = AlarmService(store, tsdb, InProcessBus(), clock=lambda: T0 + 1, utilisation=False)
    try:
        [alarm] = await service.evaluate_once()
        await eventually(lambda: len(hooks.bodies) == 1)
    finally:
        await service.stop()
    assert hooks.bodies[0]["event"] == "alarm.raised"
    assert hooks.bodies[0]["alarm"]["id"] == alarm.id
