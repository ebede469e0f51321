"""Checks that a policy's references resolve (what moves it from inserted to validated)."""

from __future__ import annotations

from netweave.inventory import Problem
from netweave.model import AlarmRule, AlarmTrigger, DrainLink, EventType, Policy, RerouteAvoiding
from netweave.store import Repository

TOPICS = {t.value for t in EventType}
LINK_KINDS = ("link", "endpoint")


def find_alarm_rule(repo: Repository, ref: str) -> AlarmRule | None:
    """An alarm rule by id or by name."""
    return repo.alarm_rules.find(ref) or repo.alarm_rules.find_by_name(ref)


def validate_policy(repo: Repository, policy: Policy) -> tuple[Problem | None, str | None]:
    """(the first problem, or None; the id of the policy's alarm rule, if it has one)."""
    trigger = policy.trigger
    rule_id = None
    if isinstance(trigger, AlarmTrigger):
        rule = find_alarm_rule(repo, trigger.alarm_rule)
        if rule is None:
            return Problem(("trigger", "alarm_rule"), f"no alarm rule {trigger.alarm_rule!r}"), None
        rule_id = rule.id
    elif trigger.event not in TOPICS:
        topics = ", ".join(sorted(TOPICS))
        return Problem(("trigger", "event"), f"{trigger.event!r} is not one of {topics}"), None
    for index, service in enumerate(policy.services):
        if repo.services.find(service) is None:
            return Problem(("services", index), f"no service {service!r}"), rule_id
    for index, device in enumerate(policy.devices):
        if repo.devices.find(device) is None:
            return Problem(("devices", index), f"no device {device!r}"), rule_id
    if not isinstance(trigger, AlarmTrigger) and EventType(trigger.event).entity not in LINK_KINDS:
        for index, action in enumerate(policy.actions):
            if isinstance(action, RerouteAvoiding | DrainLink):
                reason = f"{action.type} needs a link or endpoint event, not {trigger.event}"
                return Problem(("actions", index), reason), rule_id
    return None, rule_id
