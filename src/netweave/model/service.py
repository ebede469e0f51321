"""Connectivity services (intents) and the connections computed for them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt

from netweave.model.common import Entity, Id
from netweave.model.inventory import EndpointRef


class ServiceType(StrEnum):
    P2P = "p2p"  # point-to-point E-Line between two host ports
    L2VPN = "l2vpn"  # multipoint E-LAN among N host ports
    L3VPN = "l3vpn"  # routed connectivity between host subnets


class ServiceStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    UPDATING = "updating"
    FAILED = "failed"
    REMOVING = "removing"


class Protection(StrEnum):
    NONE = "none"
    ONE_PLUS_ONE = "1+1"
    FAST_REROUTE = "fast-reroute"


class Disjointness(StrEnum):
    LINK = "link"
    NODE = "node"


class Constraints(BaseModel):
    """What a service's paths must satisfy; all optional."""

    model_config = ConfigDict(extra="forbid")

    bandwidth_bps: NonNegativeInt | None = None
    max_latency_ms: PositiveFloat | None = None
    max_hops: PositiveInt | None = None
    protection: Protection = Protection.NONE
    disjointness: Disjointness = Disjointness.LINK
    exclude_devices: list[Id] = Field(default_factory=list)
    exclude_links: list[Id] = Field(default_factory=list)


class Service(Entity):
    """A connectivity intent: endpoints plus constraints; status is observed."""

    type: ServiceType = ServiceType.P2P
    endpoints: list[EndpointRef] = Field(
        default_factory=list, description="the ports it joins; it is routed once it has two"
    )
    constraints: Constraints = Field(default_factory=Constraints)
    attributes: dict[str, str] = Field(
        default_factory=dict, description="free-form labels, e.g. what a northbound model names"
    )
    status: ServiceStatus = ServiceStatus.PLANNED
    status_reason: str | None = Field(None, description="why it is planned/failed/updating")


class ConnectionRole(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"


class Hop(BaseModel):
    """One device on a path: traffic enters at `ingress` and leaves at `egress`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: Id
    ingress_endpoint_id: Id
    egress_endpoint_id: Id


class Connection(Entity):
    """A computed path of a service, device by device."""

    service_id: Id
    role: ConnectionRole = ConnectionRole.PRIMARY
    hops: list[Hop] = Field(default_factory=list)
    link_ids: list[Id] = Field(default_factory=list)
    vlan_id: int | None = Field(None, ge=1, le=4094, description="the tag isolating it in transit")
    reserved_bps: NonNegativeInt = Field(
        0,
        description=(
            "p2p: the bandwidth reserved on each of its links; a branch of a multipoint"
            " service: the rate each site may send (the links of the service's tree"
            " reserve the hose amounts, max(sites on one side, sites on the other) x it)"
        ),
    )
