"""Policy latency benchmark: alarm raised -> reroute issued.

Run: ``python -m bench.policy_latency [--quick]``.

A square of emulated switches (s1-s2-s3 cheap, s1-s4-s3 dearer) on SQLite in a
temporary directory; service h1-h2 runs over s1-s2. A congestion policy (reroute
avoiding the alarmed link, no hold-down) listens on the in-process bus.

- policy: an ``alarm.raised`` event for link s1-s2 is published (as the alarm service
  does) until the transaction that adds s1-s2 to the service's ``exclude_links`` and
  routes it over s4 has committed (observed by a store commit listener); p50/p99 over many
  alarms. After each, the service is put back on s1-s2 (not measured).
- baseline: the same change written directly, `Inventory.update_service` with the link
  excluded (the same write and route in one transaction), call to commit.
The difference is what the bus, the engine (matching, target, hold-down) and the audit
cost. Goal: policy p99 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.common import parser, report
from netweave.assurance.alerts_tosca import alarm_rule_id
from netweave.bus import InProcessBus
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate, ServiceUpdate
from netweave.model import Alarm, AlarmRuleSpec, Event, EventType, PolicySpec
from netweave.model.ids import link_id, service_id
from netweave.policy import PolicyEngine
from netweave.policy.admin import Assurance
from netweave.store import Change, Store

PORTS = "[{name: eth1, number: 1}, {name: eth2, number: 2}, {name: eth3, number: 3}]"
SQUARE = f"""
name: square
devices:
- {{name: s1, drivers: [emulated], ports: {PORTS}}}
- {{name: s2, drivers: [emulated], ports: {PORTS}}}
- {{name: s3, drivers: [emulated], ports: {PORTS}}}
- {{name: s4, drivers: [emulated], ports: {PORTS}}}
- {{name: h1, type: host, ports: [{{name: eth0}}], mac: '00:00:00:00:00:01'}}
- {{name: h2, type: host, ports: [{{name: eth0}}], mac: '00:00:00:00:00:02'}}
links:
- {{name: s1-s2, a: {{device: s1, port: eth1}}, b: {{device: s2, port: eth1}}}}
- {{name: s2-s3, a: {{device: s2, port: eth2}}, b: {{device: s3, port: eth1}}}}
- {{name: s3-s4, a: {{device: s3, port: eth2}}, b: {{device: s4, port: eth1}}, cost: 2}}
- {{name: s4-s1, a: {{device: s4, port: eth2}}, b: {{device: s1, port: eth2}}, cost: 2}}
- {{name: h1-s1, a: {{device: h1, port: eth0}}, b: {{device: s1, port: eth3}}}}
- {{name: h2-s3, a: {{device: h2, port: eth0}}, b: {{device: s3, port: eth3}}}}
"""
HOT = link_id("s1-s2")
SERVICE = service_id("h1-h2")


class Commits:
    """When the service's exclusion of the hot link commits (`perf_counter`)."""

    def __init__(self) -> None:
        self.at = 0.0
        self.done = threading.Event()

    def __call__(self, changes: list[Change]) -> None:
        for change in changes:
            constraints = getattr(change.entity, "constraints", None)
            if change.kind == "service" and constraints and HOT in constraints.exclude_links:
                self.at = time.perf_counter()
                self.done.set()


def alarm_event(number: int) -> Event:
    alarm = Alarm(
        id=f"alarm-{number}",
        name=f"alarm-{number}",
        rule_id=alarm_rule_id("link-hot"),
        rule_name="link-hot",
        tags={"link": "s1-s2"},
        raised_at=datetime.now(UTC),
    )
    return Event(
        type=EventType.ALARM_RAISED, entity_id=alarm.id, data=alarm.model_dump(mode="json")
    )


def back_on_the_hot_link(inventory: Inventory) -> None:
    inventory.update_service("h1-h2", ServiceUpdate.model_validate({"constraints": {}}))


def excluding_the_hot_link(inventory: Inventory) -> None:
    change = {"constraints": {"exclude_links": [HOT]}}
    inventory.update_service("h1-h2", ServiceUpdate.model_validate(change))


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def measure(rounds: int, directory: Path) -> tuple[list[float], list[float]]:
    store = Store.open(f"sqlite:///{directory / 'bench.db'}")
    bus = InProcessBus()
    inventory = Inventory(store, bus)
    inventory.import_topology(load_descriptor(SQUARE, "square")[0])
    ends = [{"device": h, "endpoint": "eth0"} for h in ("h1", "h2")]
    inventory.create_service(ServiceCreate.model_validate({"name": "h1-h2", "endpoints": ends}))
    assurance = Assurance(store)
    rule = {"name": "link-hot", "metric": "link.utilisation", "threshold": 80}
    assurance.create_alarm_rule(AlarmRuleSpec.model_validate(rule))
    policy = {
        "name": "congestion",
        "trigger": {"on": "alarm", "alarm_rule": "link-hot"},
        "actions": [{"type": "reroute_avoiding"}],
        "hold_down_s": 0,
    }
    assurance.create_policy(PolicySpec.model_validate(policy))
    commits = Commits()
    store.on_commit(commits)
    engine = PolicyEngine(store, bus)
    await engine.start()
    policy_ms: list[float] = []
    direct_ms: list[float] = []
    try:
        for number in range(rounds):
            policy_ms.append(await _one(commits, lambda n=number: bus.publish(alarm_event(n))))
            await engine.idle()
            back_on_the_hot_link(inventory)
            direct_ms.append(await _one(commits, lambda: excluding_the_hot_link(inventory)))
            back_on_the_hot_link(inventory)
    finally:
        await engine.stop()
        store.close()
    return policy_ms, direct_ms


async def _one(commits: Commits, cause: Callable[[], None]) -> float:
    """Milliseconds from `cause()` to the commit that excludes the hot link."""
    commits.done.clear()
    started = time.perf_counter()
    cause()
    if not await asyncio.to_thread(commits.done.wait, 10):
        raise TimeoutError("the hot link was not excluded within 10 s")
    return 1000 * (commits.at - started)


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    rounds = 30 if args.quick else 300
    with tempfile.TemporaryDirectory() as directory:
        policy_ms, direct_ms = asyncio.run(measure(rounds, Path(directory)))
    direct_p50, direct_p99 = percentiles(direct_ms)
    policy_p50, policy_p99 = percentiles(policy_ms)
    print(f"{rounds} alarms on SQLite; reroute = exclude the link and route the service again")
    report("direct store write p50", direct_p50, "ms")
    report("direct store write p99", direct_p99, "ms")
    report("alarm -> reroute issued p50", policy_p50, "ms", direct_p50)
    report("alarm -> reroute issued p99", policy_p99, "ms", direct_p99)
    print(f"goal p99 <= 50 ms: {'met' if policy_p99 <= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
