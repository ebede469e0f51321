"""Changing the endpoints of a running service on emulated switches: a p2p service
replaces an end, an L2VPN adds and removes members, make-before-break (every new rule
is on its switch before an old one is withdrawn); bad changes leave it as it was."""

from __future__ import annotations

import pytest
import test_services
from test_services import SWITCHES, Net

from netweave.inventory import Invalid
from netweave.inventory.inputs import ServiceCreate, ServiceUpdate
from netweave.model import ConfigRule, RuleAction, ServiceStatus
from netweave.model.ids import endpoint_id
from netweave.services import WAITING_FOR_ENDPOINTS
from netweave.store import Change, Op
from netweave.testing import eventually

net = test_services.net  # the square of emulated switches, with hosts h1-h4


def ends(*hosts: str) -> list[dict[str, str]]:
    return [{"device": host, "endpoint": "eth0"} for host in hosts]


def move(net: Net, name: str, *hosts: str) -> None:
    net.inventory.update_service(name, ServiceUpdate.model_validate({"endpoints": ends(*hosts)}))


class RuleLog:
    """The order in which rules were written: added (set) and withdrawn (delete)."""

    def __init__(self, net: Net) -> None:
        self.events: list[tuple[str, str]] = []
        net.store.on_commit(self._record)

    def _record(self, changes: list[Change]) -> None:
        for change in changes:
            if not isinstance(change.entity, ConfigRule):
                continue
            if change.op is Op.CREATED:
                self.events.append(("add", change.entity.id))
            elif change.op is Op.UPDATED and change.entity.action is RuleAction.DELETE:
                self.events.append(("withdraw", change.entity.id))

    def first(self, kind: str) -> int:
        return next(i for i, (k, _) in enumerate(self.events) if k == kind)

    def last(self, kind: str) -> int:
        return max(i for i, (k, _) in enumerate(self.events) if k == kind)


async def test_p2p_replaces_an_end_make_before_break(net: Net) -> None:
    net.create("svc", "h1:eth0", "h2:eth0", bandwidth_bps=1_000_000)
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    before = {rule.id for rule in net.rules("svc")}
    log = RuleLog(net)
    move(net, "svc", "h1", "h3")
    assert net.status("svc") is ServiceStatus.UPDATING
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    service = net.service("svc")
    assert service is not None
    assert [e.endpoint_id for e in service.endpoints] == [
        endpoint_id("h1", "eth0"),
        endpoint_id("h3", "eth0"),
    ]
    assert log.last("add") < log.first("withdraw")
    after = {rule.id for rule in net.rules("svc")}
    assert after != before
    assert {r.key for r in net.rules("svc")} == set().union(*net.on_switches().values())
    assert net.reserved("h2:eth0--s3:eth3") == 0
    assert net.reserved("h3:eth0--s2:eth3") == 1_000_000


async def test_l2vpn_adds_and_removes_members_and_waits_below_two(net: Net) -> None:
    spec = {"name": "lan", "type": "l2vpn", "endpoints": ends("h1", "h2")}
    net.inventory.create_service(ServiceCreate.model_validate(spec))
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)
    two = {r.id for r in net.rules("lan")}
    log = RuleLog(net)
    move(net, "lan", "h1", "h2", "h3")
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)
    three = {r.id for r in net.rules("lan")}
    assert len(three) > len(two)
    move(net, "lan", "h1", "h3")
    await eventually(
        lambda: (
            net.status("lan") is ServiceStatus.ACTIVE
            and set().union(*net.on_switches().values()) == {r.key for r in net.rules("lan")}
        )
    )
    assert log.first("add") < log.first("withdraw")
    # one member left: nothing to join, so no rule anywhere, waiting for another
    waiting = net.inventory.update_service(
        "lan", ServiceUpdate.model_validate({"endpoints": ends("h1")})
    )
    assert (waiting.status, waiting.status_reason) == (
        ServiceStatus.PLANNED,
        WAITING_FOR_ENDPOINTS,
    )
    await eventually(lambda: net.on_switches() == {s: set() for s in SWITCHES})
    move(net, "lan", "h1", "h4")
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)


async def test_bad_endpoint_changes_are_refused_and_change_nothing(net: Net) -> None:
    net.create("svc", "h1:eth0", "h2:eth0")
    await eventually(lambda: net.status("svc") is ServiceStatus.ACTIVE)
    rules = net.rules("svc")
    for hosts, loc, message in (
        (("h1", "h2", "h3"), ("endpoints",), "a p2p service joins exactly 2 ports, not 3"),
        (("h1", "h1"), ("endpoints", 1), "lists the same port twice"),
        (("h1", "h9"), ("endpoints", 1, "device"), "no device named 'h9'"),
    ):
        with pytest.raises(Invalid) as error:
            move(net, "svc", *hosts)
        assert (error.value.problems[0].loc, error.value.problems[0].msg) == (loc, message)
    assert net.status("svc") is ServiceStatus.ACTIVE and net.rules("svc") == rules
