"""The assurance loop on real Open vSwitch: iperf3 load on a rate-limited link of a
service's path raises a utilisation alarm, and the congestion policy moves the service off
that link (the new path avoids it, traffic still flows, the audit says what was done)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from netweave.assurance import EmbeddedTSDB
from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.inventory import Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate
from netweave.lab import Lab
from netweave.model import (
    AlarmRuleSpec,
    AlarmState,
    AuditResult,
    Event,
    EventType,
    PolicySpec,
    ServiceStatus,
    TopologyDescriptor,
)
from netweave.model.ids import service_id
from netweave.policy.admin import Assurance
from netweave.services import connection_id
from netweave.store import Store
from netweave.testing import eventually, lab_under

EXAMPLES = Path(__file__).parents[2] / "examples"
LabFactory = Callable[..., Lab]
LIMIT_BPS = 20_000_000


def ring_with_a_thin_link() -> tuple[TopologyDescriptor, str]:
    """The ring example with s1-s2 shaped to 20 Mbit/s (and declared so); its name."""
    path = EXAMPLES / "ring.yaml"
    descriptor = load_descriptor(path.read_text(), str(path))[0]
    thin = next(
        i
        for i, link in enumerate(descriptor.links)
        if {link.a.device, link.b.device} == {"s1", "s2"}
    )
    link = descriptor.links[thin].model_copy(
        update={"capacity_bps": LIMIT_BPS, "rate_limit_bps": LIMIT_BPS}
    )
    descriptor.links[thin] = link
    return descriptor, link.effective_name


async def test_congestion_moves_the_service_off_the_hot_link(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    descriptor, thin = ring_with_a_thin_link()
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")
    bus = InProcessBus()
    inventory = Inventory(store, bus)
    inventory.import_topology(descriptor)
    raised: list[Event] = []
    bus.subscribe(EventType.ALARM_RAISED.value, raised.append)
    settings = ControllerSettings(openflow_port=0, discovery_interval_s=0.2, alarm_interval_s=0.5)
    controller = Controller(store, settings, tsdb=EmbeddedTSDB(), bus=bus)
    try:
        async with lab_under(controller, descriptor, lab_factory) as lab:
            ends = [{"device": h, "endpoint": "eth0"} for h in ("h1", "h2")]
            inventory.create_service(
                ServiceCreate.model_validate({"name": "h1-h2", "endpoints": ends})
            )

            def connection_links() -> list[str]:
                with store.read() as repo:
                    found = repo.connections.find(connection_id(service_id("h1-h2")))
                    names = {link.id: link.name for link in repo.links.list()}
                return [names[i] for i in found.link_ids] if found else []

            def active() -> bool:
                with store.read() as repo:
                    return repo.services.get(service_id("h1-h2")).status is ServiceStatus.ACTIVE

            await eventually(active, within=20)
            assert thin in connection_links()  # h1 - s1 - s2 - s3 - h2

            assurance = Assurance(store)
            rule = {
                "name": "link-hot",
                "metric": "link.utilisation",
                "window_s": 2,
                "threshold": 80,
            }
            assurance.create_alarm_rule(AlarmRuleSpec.model_validate(rule | {"for_s": 1}))
            policy = {
                "name": "congestion",
                "trigger": {"on": "alarm", "alarm_rule": "link-hot"},
                "services": ["h1-h2"],
                "actions": [{"type": "reroute_avoiding"}],
                "hold_down_s": 60,
            }
            assurance.create_policy(PolicySpec.model_validate(policy))

            server = lab.exec("h2", ["iperf3", "-s", "-D", "-1"])
            assert server.returncode == 0, server.stderr
            await asyncio.sleep(0.3)
            started = time.monotonic()
            load = asyncio.create_task(
                asyncio.to_thread(
                    lab.exec, "h1", ["iperf3", "-c", "10.0.0.2", "-t", "12"], timeout=40
                )
            )
            await eventually(lambda: bool(raised), within=15)
            alarm_after = time.monotonic() - started
            await eventually(lambda: thin not in connection_links() and active(), within=10)
            moved_after = time.monotonic() - started
            await load
            print(
                f"utilisation alarm {alarm_after:.1f} s after the load started, service moved "
                f"{moved_after:.1f} s after; new path {connection_links()}"
            )
            assert raised[0].data["tags"] == {"link": thin}
            assert raised[0].data["value"] > 80
            # the load moves with the service; an access link it fills up has no way around
            [entry] = [e for e in assurance.audit("congestion") if e.target == f"link/{thin}"]
            assert (entry.action, entry.result) == ("reroute_avoiding", AuditResult.OK)
            argv = ["ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.0.2"]
            assert (await asyncio.to_thread(lab.exec, "h1", argv)).returncode == 0
            assert assurance.get_policy("congestion").status.value == "enforced"

            def thin_alarms() -> list[AlarmState]:
                return [a.status for a in assurance.list_alarms() if a.tags == {"link": thin}]

            await eventually(lambda: thin_alarms() == [AlarmState.CLEARED], within=10)
    finally:
        store.close()
