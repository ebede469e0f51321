"""Inventory and topology: devices, their endpoints (ports) and the links between them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, model_validator

from netweave.model.common import Entity, Id, OperStatus

MAC_PATTERN = r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$"
Mac = Annotated[str, Field(pattern=MAC_PATTERN, description="aa:bb:cc:dd:ee:ff")]


class DeviceType(StrEnum):
    SWITCH = "switch"
    ROUTER = "router"
    HOST = "host"
    COMPUTE = "compute"
    OPTICAL = "optical"


class Device(Entity):
    """A managed network element, reached through one of its drivers."""

    type: DeviceType = DeviceType.SWITCH
    drivers: list[str] = Field(default_factory=list, description="driver names, first preferred")
    address: str | None = Field(None, description="how a driver reaches it, e.g. tcp:10.0.0.1:830")
    credentials_ref: str | None = Field(None, description="name of a secret, never the secret")
    status: OperStatus = OperStatus.UNKNOWN
    attributes: dict[str, str] = Field(
        default_factory=dict, description="free-form labels, e.g. datapath_id, role, vendor"
    )


class Endpoint(Entity):
    """A port of a device (its name is unique within the device)."""

    device_id: Id
    number: NonNegativeInt | None = Field(None, description="port number on the device")
    mac: Mac | None = None
    ip: str | None = Field(None, description="hosts: interface address in CIDR form")
    speed_bps: NonNegativeInt | None = None
    status: OperStatus = OperStatus.UNKNOWN


class EndpointRef(BaseModel):
    """A reference to one endpoint of one device, by ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: Id
    endpoint_id: Id


class LinkOrigin(StrEnum):
    DECLARED = "declared"  # written by a user or descriptor; kept when it goes down
    DISCOVERED = "discovered"  # learned (LLDP, host tracking); removed when it disappears


class Link(Entity):
    """A bidirectional link between two endpoints."""

    a: EndpointRef
    b: EndpointRef
    capacity_bps: NonNegativeInt = 0
    latency_ms: NonNegativeFloat = 0.0
    cost: NonNegativeFloat = 1.0
    status: OperStatus = OperStatus.UNKNOWN
    reserved_bps: NonNegativeInt = 0
    origin: LinkOrigin = LinkOrigin.DECLARED

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.a == self.b:
            raise ValueError("a link needs two different endpoints (a == b)")
        if self.reserved_bps > self.capacity_bps > 0:
            raise ValueError(
                f"reserved_bps {self.reserved_bps} exceeds capacity_bps {self.capacity_bps}"
            )
        return self

    @property
    def unreserved_bps(self) -> int:
        return max(self.capacity_bps - self.reserved_bps, 0)


class Topology(BaseModel):
    """A consistent snapshot of the inventory: what `GET /api/v1/topology` returns."""

    devices: list[Device] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
