"""Onboarding templates: matching by datapath id / name (glob or regex), role and
attributes, initial flows as desired rules; re-applying is a no-op, dropped flows go."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from netweave.controller.onboarding import Onboarding
from netweave.controller.templates import OnboardingTemplate, apply_template, template_for
from netweave.drivers.openflow import DatapathInfo, OpenFlowPlugin
from netweave.model import Device, RuleAction, RuleStatus
from netweave.model.ids import device_id
from netweave.store import Store

DROP_IPV6 = {"priority": 1, "match": {"eth_type": 0x86DD}, "actions": []}
DROP_ARP = {"priority": 1, "match": {"eth_type": 0x0806}, "actions": []}


def template(**fields: Any) -> OnboardingTemplate:
    return OnboardingTemplate.model_validate({"name": "edge"} | fields)


def switch(name: str, dpid: str) -> Device:
    return Device(id=device_id(name), name=name, attributes={"datapath_id": dpid})


def test_patterns_are_required_and_checked() -> None:
    with pytest.raises(ValidationError, match="give at least one pattern"):
        template()
    with pytest.raises(ValidationError, match=r"device_name: 're:\(' is not a valid regex"):
        template(device_name="re:(")


def test_glob_regex_and_first_match_wins() -> None:
    core = template(name="core", device_name="re:core-[0-9]+")
    edge = template(name="edge", datapath_id="00000000000000??")
    rest = template(name="rest", device_name="*")
    templates = (core, edge, rest)
    assert template_for(templates, switch("core-12", "0000000000000001")) is core
    assert template_for(templates, switch("core-x", "0000000000000001")) is edge
    assert template_for(templates, switch("core-x", "00000000000001ff")) is rest
    assert not core.matches(switch("core-12a", "1"))  # a regex matches the whole name


def test_applying_writes_role_attributes_and_rules_once(store: Store) -> None:
    device = switch("s1", "0000000000000001")
    edge = template(datapath_id="*", role="edge", attributes={"site": "lab"}, flows=[DROP_IPV6])
    with store.transaction() as repo:
        repo.devices.add(device)
        assert apply_template(repo, edge, device) == 1
    with store.transaction() as repo:
        stored = repo.devices.get(device.id)
        assert stored.attributes == {
            "datapath_id": "0000000000000001",
            "role": "edge",
            "site": "lab",
            "template": "edge",
        }
        assert apply_template(repo, edge, stored) == 0
        [rule] = repo.rules.list(device_id=device.id)
        assert rule.owner == "template/edge" and rule.key.startswith("/flow/table=0/priority=1/")


def test_flows_a_template_no_longer_lists_are_withdrawn(store: Store) -> None:
    device = switch("s1", "0000000000000001")
    with store.transaction() as repo:
        repo.devices.add(device)
        apply_template(repo, template(datapath_id="*", flows=[DROP_IPV6, DROP_ARP]), device)
        applied, pending = repo.rules.list(device_id=device.id)
        repo.rules.set_status([applied.id], RuleStatus.APPLIED)
    with store.transaction() as repo:
        assert apply_template(repo, template(datapath_id="*"), repo.devices.get(device.id)) == 0
        [left] = repo.rules.list(device_id=device.id)
    assert left.id == applied.id and left.action is RuleAction.DELETE  # the switch has it
    assert pending.id != left.id  # never installed: dropped at once


def test_onboarding_configures_new_and_known_switches(store: Store) -> None:
    known = switch("s1", "0000000000000001")
    with store.transaction() as repo:
        repo.devices.add(known)
    edge = template(datapath_id="*", role="edge", flows=[DROP_IPV6])
    onboarding = Onboarding(store, OpenFlowPlugin(port=0), (edge,))
    assert onboarding.datapath_connected(DatapathInfo("0000000000000001", "127.0.0.1:1")) is None
    created = onboarding.datapath_connected(DatapathInfo("00000000000000aa", "127.0.0.1:2"))
    assert created is not None and created.name == "of:00000000000000aa"
    with store.read() as repo:
        for device in (known, created):
            assert repo.devices.get(device.id).attributes["role"] == "edge"
            assert len(repo.rules.list(device_id=device.id, owner="template/edge")) == 1
