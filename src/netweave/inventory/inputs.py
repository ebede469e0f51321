"""What users send to create or change inventory entities, referring to things by name.

Each `*Update` holds the fields a user may change (with the entity's defaults); its
`*Create` adds what fixes the entity's identity. A reference is a name or an id.
Observed fields (status, reserved bandwidth) are not user input.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
)

from netweave.model import Constraints, DeviceType, Mac, Name, ServiceType

Ref = str  # a name or an id


def cidr(value: str) -> str:
    """`value` if it is an interface address with a prefix length (10.0.0.1/24)."""
    if "/" not in value:
        raise ValueError(f"{value!r} needs a prefix length, e.g. 10.0.0.1/24")
    try:
        return str(ipaddress.ip_interface(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an address in CIDR form") from None


Cidr = Annotated[str, AfterValidator(cidr)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceUpdate(_Input):
    type: DeviceType = DeviceType.SWITCH
    drivers: list[str] = Field(default_factory=list, description="driver names, first preferred")
    address: str | None = Field(None, description="how a driver reaches it, e.g. tcp:10.0.0.1:830")
    credentials_ref: str | None = Field(None, description="name of a secret, never the secret")
    attributes: dict[str, str] = Field(default_factory=dict)


class DeviceCreate(DeviceUpdate):
    name: Name


class EndpointUpdate(_Input):
    number: NonNegativeInt | None = Field(None, description="port number, unique on the device")
    mac: Mac | None = None
    ip: Cidr | None = Field(None, description="hosts: interface address in CIDR form")
    speed_bps: NonNegativeInt | None = None


class EndpointCreate(EndpointUpdate):
    name: Name


class PortRef(_Input):
    """One port of one device, each by name or id."""

    device: Ref
    endpoint: Ref


class LinkUpdate(_Input):
    capacity_bps: NonNegativeInt = 0
    latency_ms: NonNegativeFloat = 0.0
    cost: NonNegativeFloat = 1.0


class LinkCreate(LinkUpdate):
    name: Name | None = Field(None, description="defaults to '<dev>:<port>--<dev>:<port>'")
    a: PortRef
    b: PortRef


class ServiceUpdate(_Input):
    type: ServiceType = ServiceType.P2P
    constraints: Constraints = Field(default_factory=Constraints)
    attributes: dict[str, str] = Field(default_factory=dict)
    endpoints: list[PortRef] | None = Field(
        None, description="the ports it joins, in order; omitted: unchanged"
    )


class ServiceDraft(ServiceUpdate):
    """A service whose endpoints may come later (as a VPN of a northbound model before
    its sites): it stays planned, waiting, until it has two."""

    name: Name
    endpoints: list[PortRef] = Field(default_factory=list)


class ServiceCreate(ServiceDraft):
    endpoints: list[PortRef] = Field(min_length=2)
