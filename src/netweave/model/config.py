"""Configuration rules: the unit a reconciler wants on a device and a driver applies."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from netweave.model.common import Id, JsonObject


class RuleAction(StrEnum):
    """Desired: the rule should be present (set) or absent (delete)."""

    SET = "set"
    DELETE = "delete"


class RuleStatus(StrEnum):
    """Observed: what the device confirmed."""

    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"
    REMOVED = "removed"


class ConfigRule(BaseModel):
    """One keyed piece of device configuration owned by one intent.

    `key` is unique per device (e.g. ``/flow/table=0/priority=100/match=...``); `value` is
    the driver-specific payload. `action` is the desired state, `status`/`error` what the
    device reported.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: Id
    owner: str = Field(min_length=1, max_length=200, description="e.g. service/<id>")
    device_id: Id
    key: str = Field(min_length=1, max_length=1000)
    value: JsonObject = Field(default_factory=dict)
    action: RuleAction = RuleAction.SET
    status: RuleStatus = RuleStatus.PENDING
    error: str | None = None
