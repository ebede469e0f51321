"""Events published on the bus: one type per create/update/delete and state change."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from netweave.model.common import Id, JsonObject


class EventType(StrEnum):
    """Topic of an event, ``<entity>.<verb>``; subscribers may match on the prefix."""

    DEVICE_CREATED = "device.created"
    DEVICE_UPDATED = "device.updated"
    DEVICE_DELETED = "device.deleted"
    DEVICE_STATUS = "device.status"
    ENDPOINT_CREATED = "endpoint.created"
    ENDPOINT_UPDATED = "endpoint.updated"
    ENDPOINT_DELETED = "endpoint.deleted"
    ENDPOINT_STATUS = "endpoint.status"
    LINK_CREATED = "link.created"
    LINK_UPDATED = "link.updated"
    LINK_DELETED = "link.deleted"
    LINK_STATUS = "link.status"
    SERVICE_CREATED = "service.created"
    SERVICE_UPDATED = "service.updated"
    SERVICE_DELETED = "service.deleted"
    SERVICE_STATUS = "service.status"
    CONNECTION_CREATED = "connection.created"
    CONNECTION_UPDATED = "connection.updated"
    CONNECTION_DELETED = "connection.deleted"
    CONFIG_RULE_STATUS = "config_rule.status"
    ALARM_RAISED = "alarm.raised"
    ALARM_CLEARED = "alarm.cleared"
    POLICY_CREATED = "policy.created"
    POLICY_UPDATED = "policy.updated"
    POLICY_DELETED = "policy.deleted"
    POLICY_STATUS = "policy.status"
    POLICY_ACTION = "policy.action"
    POLICY_NOTIFICATION = "policy.notification"

    @property
    def entity(self) -> str:
        return self.value.split(".", 1)[0]


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Something that happened to one entity; `data` is the entity after the change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: EventType
    entity_id: Id
    data: JsonObject = Field(default_factory=dict)
    time: datetime = Field(default_factory=_now)
