"""Onboarding templates: role-based initial configuration for switches that connect.

A template matches switches by datapath id and/or device name, each a glob
(``0000000000000*``, ``edge-*``) or, prefixed with ``re:``, a regular expression that must
match the whole value. The first matching template (in settings order) gives the switch
its ``role`` and attributes and its flows, written as desired config rules owned by
``template/<name>``; the device manager installs them like any other rule. Applying a
template again is a no-op; flows it no longer lists are withdrawn.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netweave.drivers.openflow.rules import FlowRule, config_rule
from netweave.model import ConfigRule, Device, Name, RuleAction, RuleStatus
from netweave.store import Repository

REGEX_PREFIX = "re:"


def _check_pattern(field: str, pattern: str | None) -> None:
    if pattern is not None and pattern.startswith(REGEX_PREFIX):
        try:
            re.compile(pattern.removeprefix(REGEX_PREFIX))
        except re.error as error:
            raise ValueError(f"{field}: {pattern!r} is not a valid regex: {error}") from None


def _matches(pattern: str | None, value: str | None) -> bool:
    if pattern is None:
        return True
    if value is None:
        return False
    if pattern.startswith(REGEX_PREFIX):
        return re.fullmatch(pattern.removeprefix(REGEX_PREFIX), value) is not None
    return fnmatch.fnmatchcase(value, pattern)


class OnboardingTemplate(BaseModel):
    """Initial configuration for the switches it matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    datapath_id: str | None = Field(None, description="glob, or re:<regex>, on the datapath id")
    device_name: str | None = Field(None, description="glob, or re:<regex>, on the name")
    role: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    flows: list[FlowRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_valid_patterns(self) -> Self:
        if self.datapath_id is None and self.device_name is None:
            raise ValueError("datapath_id or device_name: give at least one pattern")
        _check_pattern("datapath_id", self.datapath_id)
        _check_pattern("device_name", self.device_name)
        return self

    @property
    def owner(self) -> str:
        return f"template/{self.name}"

    def matches(self, device: Device) -> bool:
        dpid = device.attributes.get("datapath_id")
        return _matches(self.datapath_id, dpid) and _matches(self.device_name, device.name)


def template_for(
    templates: tuple[OnboardingTemplate, ...], device: Device
) -> OnboardingTemplate | None:
    """The first template matching `device`."""
    return next((t for t in templates if t.matches(device)), None)


def apply_template(repo: Repository, template: OnboardingTemplate, device: Device) -> int:
    """Give `device` the template's role and attributes and its flows as desired rules
    (withdrawing flows of the template it no longer lists); returns the rules written."""
    labels = {**template.attributes, "template": template.name}
    if template.role is not None:
        labels["role"] = template.role
    if any(device.attributes.get(k) != v for k, v in labels.items()):
        repo.devices.update(device.model_copy(update={"attributes": device.attributes | labels}))
    wanted = {
        rule.id: rule
        for rule in (config_rule(template.owner, device.id, f) for f in template.flows)
    }
    current = {r.id: r for r in repo.rules.list(device_id=device.id, owner=template.owner)}
    changed = [
        rule
        for rule in wanted.values()
        if (old := current.get(rule.id)) is None
        or (old.value, old.action) != (rule.value, RuleAction.SET)
    ]
    repo.rules.put_many(changed)
    stale = [rule for rule_id, rule in current.items() if rule_id not in wanted]
    repo.rules.delete_many(r.id for r in stale if r.status is not RuleStatus.APPLIED)
    repo.rules.put_many(
        [
            _withdrawn(r)
            for r in stale
            if r.status is RuleStatus.APPLIED and r.action is RuleAction.SET
        ]
    )
    return len(changed)


def _withdrawn(rule: ConfigRule) -> ConfigRule:
    return rule.model_copy(update={"action": RuleAction.DELETE})
