"""What the rules of every service share: their owner, their priority, their form."""

from __future__ import annotations

from netweave.drivers.openflow.rules import OpenFlowRule, canonical_value, rule_key
from netweave.model import ConfigRule
from netweave.model.ids import rule_id

SERVICE_PRIORITY = 30000
"""Above default forwarding (10) and table-miss punts (0), below LLDP punts (65000)."""

OWNER_PREFIX = "service/"


def owner_of(service_id: str) -> str:
    return f"{OWNER_PREFIX}{service_id}"


def service_of(owner: str) -> str | None:
    """The service id of a rule owner, or None if a service does not own it."""
    return owner[len(OWNER_PREFIX) :] if owner.startswith(OWNER_PREFIX) else None


def config_rule(owner: str, device_id: str, rule: OpenFlowRule) -> ConfigRule:
    """A `ConfigRule` carrying `rule` with its canonical key and value."""
    key = rule_key(rule)
    return ConfigRule(
        id=rule_id(owner, device_id, key),
        owner=owner,
        device_id=device_id,
        key=key,
        value=canonical_value(rule),
    )
