"""Assurance: alarm rules on KPIs, the alarms they raise, event-condition-action policies
and the audit trail of what policies did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
)

from netweave.model.common import Entity, Id, Name


class AlarmKind(StrEnum):
    THRESHOLD = "threshold"  # the aggregated window compared with a threshold
    RELATIVE = "relative"  # % change of the window vs the previous window, compared
    DEADMAN = "deadman"  # no sample for `window_s`


class Comparison(StrEnum):
    LT = "lt"
    GT = "gt"
    LTE = "lte"
    GTE = "gte"
    EQ = "eq"
    NEQ = "neq"

    def holds(self, value: float, threshold: float) -> bool:
        match self:
            case Comparison.LT:
                return value < threshold
            case Comparison.GT:
                return value > threshold
            case Comparison.LTE:
                return value <= threshold
            case Comparison.GTE:
                return value >= threshold
            case Comparison.EQ:
                return value == threshold
            case Comparison.NEQ:
                return value != threshold


class AlarmRuleSpec(BaseModel):
    """Raises one alarm per matching series while its condition holds (for `for_s`).

    threshold: `aggregation` of `metric` over the last `window_s` `comparison` `threshold`;
    relative: the % change of that aggregate vs the window before `comparison` `threshold`;
    deadman: no sample for `window_s` (`threshold`, `comparison` unused)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: AlarmKind = AlarmKind.THRESHOLD
    metric: Annotated[str, Field(min_length=1)]
    match: dict[str, str] = Field(default_factory=dict, description="tag filter (equality)")
    aggregation: str = "mean"
    window_s: PositiveFloat = 10.0
    comparison: Comparison = Comparison.GT
    threshold: float = 0.0
    for_s: Annotated[float, Field(ge=0)] = 0.0
    webhooks: list[AnyHttpUrl] = Field(default_factory=list, description="notified on changes")
    description: str = ""


class AlarmRule(Entity, AlarmRuleSpec):
    """A stored alarm rule."""


class AlarmState(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"


class Alarm(Entity):
    """One occurrence of a rule's condition on one series (kept after it clears)."""

    rule_id: Id
    rule_name: Name
    tags: dict[str, str] = Field(default_factory=dict)
    status: AlarmState = AlarmState.ACTIVE
    value: float | None = Field(None, description="the value that raised it (None: deadman)")
    message: str = ""
    raised_at: datetime
    cleared_at: datetime | None = None


class PolicyState(StrEnum):
    INSERTED = "inserted"  # stored, not yet checked
    VALIDATED = "validated"  # its references resolve
    ACTIVE = "active"  # listening for its trigger
    ENFORCED = "enforced"  # an action of it has succeeded
    DISABLED = "disabled"  # switched off by a user
    FAILED = "failed"  # could not be validated (see status_reason)


class AlarmTrigger(BaseModel):
    """Fires when an alarm of rule `alarm_rule` (name or id) is raised."""

    model_config = ConfigDict(extra="forbid")

    on: Literal["alarm"] = "alarm"
    alarm_rule: Annotated[str, Field(min_length=1)]


class EventTrigger(BaseModel):
    """Fires when `count` bus events of topic `event` (an exact `EventType` value) whose
    data has the `where` values arrive for one entity within `within_s`."""

    model_config = ConfigDict(extra="forbid")

    on: Literal["event"] = "event"
    event: Annotated[str, Field(min_length=1)]
    where: dict[str, str] = Field(default_factory=dict)
    count: PositiveInt = 1
    within_s: PositiveFloat = 60.0


class RerouteAvoiding(BaseModel):
    """Add the trigger's link to the `exclude_links` of the services on it (of the
    policy's services, when it names some); the service reconciler moves them."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["reroute_avoiding"] = "reroute_avoiding"


class DrainLink(BaseModel):
    """Mark the trigger's link down and exclude it from every service on it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["drain_link"] = "drain_link"


class Webhook(BaseModel):
    """POST the trigger as JSON to `url`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook"] = "webhook"
    url: AnyHttpUrl
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 2.0


class RaiseEvent(BaseModel):
    """Publish a ``policy.notification`` event named `name` (e.g. SLA_VIOLATED)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["raise_event"] = "raise_event"
    name: Name


PolicyAction = Annotated[
    RerouteAvoiding | DrainLink | Webhook | RaiseEvent, Field(discriminator="type")
]
PolicyTrigger = Annotated[AlarmTrigger | EventTrigger, Field(discriminator="on")]


class PolicySpec(BaseModel):
    """Event-condition-action: when `trigger` fires for a target (a link, device, …),
    run `actions` in order, then leave that target alone for `hold_down_s`. A failing
    action is retried with exponential backoff up to `max_attempts` times."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = ""
    trigger: PolicyTrigger
    actions: list[PolicyAction] = Field(min_length=1)
    services: list[str] = Field(
        default_factory=list, description="services it applies to, by id (empty: all)"
    )
    devices: list[str] = Field(
        default_factory=list, description="devices it applies to, by id (empty: all)"
    )
    hold_down_s: Annotated[float, Field(ge=0)] = 30.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    enabled: bool = True


class Policy(Entity, PolicySpec):
    """A stored policy and where it is in its life cycle."""

    status: PolicyState = PolicyState.INSERTED
    status_reason: str | None = None


class AuditResult(StrEnum):
    OK = "ok"
    RETRYING = "retrying"  # failed; will be tried again after a backoff
    FAILED = "failed"  # failed for the last time
    HELD_DOWN = "held_down"  # not run: the target is in its hold-down time


class AuditEntry(Entity):
    """One thing a policy did (or tried, or held back): who, what, on what, when, result."""

    policy_id: Id
    actor: str = Field(description="who acted, e.g. policy/<name>")
    action: str
    target: str = Field(description="what it acted on, e.g. link/<name>")
    trigger: str = Field(description="the event that caused it")
    attempt: PositiveInt = 1
    result: AuditResult
    detail: str = ""
    time: datetime
