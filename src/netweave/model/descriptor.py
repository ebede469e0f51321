"""The topology descriptor: a network written by hand in YAML/JSON, referring by name.

It is what `netweave topology load` imports and `netweave lab up` builds. Names are
turned into ids with `netweave.model.ids`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

from netweave.model.common import Name
from netweave.model.inventory import DeviceType, Mac

_DATAPATH_ID = re.compile(r"^[0-9a-f]{1,16}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortSpec(_Strict):
    name: Name
    number: NonNegativeInt | None = None
    mac: Mac | None = None
    speed_bps: NonNegativeInt | None = None


class HostAddress(_Strict):
    """An IP address of a host interface, in CIDR form (e.g. 10.0.0.1/24)."""

    ip: Annotated[str, Field(pattern=r"^[0-9a-fA-F:.]+/\d{1,3}$")]


class DeviceSpec(_Strict):
    name: Name
    type: DeviceType = DeviceType.SWITCH
    drivers: list[str] = Field(default_factory=list)
    address: str | None = None
    ports: list[PortSpec] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    ip: str | None = Field(None, description="hosts: address in CIDR form on their first port")
    mac: Mac | None = Field(None, description="hosts: MAC of their first port")
    gateway: str | None = Field(None, description="hosts: default gateway")

    @property
    def datapath_id(self) -> str:
        """Switches: the OpenFlow datapath id as 16 lower-case hex digits.

        Taken from ``attributes["datapath_id"]`` (hex, with or without ``0x``/colons) or,
        when absent, derived from the name (48 bits of its SHA-256), so that the lab and
        an importer agree. Raises `ValueError` when the attribute is not a non-zero
        64-bit hex number.
        """
        raw = self.attributes.get("datapath_id")
        if raw is None:
            return hashlib.sha256(f"datapath/{self.name}".encode()).hexdigest()[:12].zfill(16)
        digits = raw.strip().lower().removeprefix("0x").replace(":", "")
        if not _DATAPATH_ID.match(digits) or int(digits, 16) == 0:
            raise ValueError(f"{raw!r} is not a non-zero 64-bit hex number")
        return digits.zfill(16)


class LinkEnd(_Strict):
    device: Name
    port: Name


class LinkSpec(_Strict):
    name: Name | None = Field(
        None, description="defaults to '<a.device>:<a.port>--<b.device>:<b.port>'"
    )
    a: LinkEnd
    b: LinkEnd
    capacity_bps: NonNegativeInt = 0
    latency_ms: NonNegativeFloat = 0.0
    cost: NonNegativeFloat = 1.0
    rate_limit_bps: NonNegativeInt | None = Field(None, description="lab: shape the veth (tc)")

    @property
    def effective_name(self) -> str:
        return self.name or f"{self.a.device}:{self.a.port}--{self.b.device}:{self.b.port}"


class TopologyDescriptor(_Strict):
    name: Name = "topology"
    devices: list[DeviceSpec] = Field(default_factory=list)
    links: list[LinkSpec] = Field(default_factory=list)
