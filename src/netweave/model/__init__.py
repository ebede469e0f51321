"""The one typed data model shared by store, API, CLI, bus and drivers. Imports nothing of ours."""

from netweave.model.common import Entity, Id, JsonObject, Name, OperStatus
from netweave.model.config import ConfigRule, RuleAction, RuleStatus
from netweave.model.descriptor import (
    DeviceSpec,
    HostAddress,
    LinkEnd,
    LinkSpec,
    PortSpec,
    TopologyDescriptor,
)
from netweave.model.event import Event, EventType
from netweave.model.inventory import (
    Device,
    DeviceType,
    Endpoint,
    EndpointRef,
    Link,
    LinkOrigin,
    Mac,
    Topology,
)
from netweave.model.service import (
    Connection,
    ConnectionRole,
    Constraints,
    Disjointness,
    Hop,
    Protection,
    Service,
    ServiceStatus,
    ServiceType,
)

__all__ = [
    "ConfigRule",
    "Connection",
    "ConnectionRole",
    "Constraints",
    "Device",
    "DeviceSpec",
    "DeviceType",
    "Disjointness",
    "Endpoint",
    "EndpointRef",
    "Entity",
    "Event",
    "EventType",
    "Hop",
    "HostAddress",
    "Id",
    "JsonObject",
    "Link",
    "LinkEnd",
    "LinkOrigin",
    "LinkSpec",
    "Mac",
    "Name",
    "OperStatus",
    "PortSpec",
    "Protection",
    "RuleAction",
    "RuleStatus",
    "Service",
    "ServiceStatus",
    "ServiceType",
    "Topology",
    "TopologyDescriptor",
]
