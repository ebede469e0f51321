"""Assurance actions: the alarm service (rules evaluated on the time-series store, alarms
stored and published) and the event-condition-action policy engine acting on them."""

from netweave.policy.alarming import AlarmService
from netweave.policy.engine import PolicyEngine

__all__ = ["AlarmService", "PolicyEngine"]
