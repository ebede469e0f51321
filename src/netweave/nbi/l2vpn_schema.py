"""The subset of the IETF L2VPN service model (RFC 8466, ``ietf-l2vpn-svc``) netweave
serves, as RESTCONF JSON: VPN services and the site network accesses attaching ports to
them. Leaves outside the subset are ignored; identity values may carry their module
prefix (``ietf-l2vpn-svc:vpws``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    model_validator,
)

from netweave.model import Name

MODULE = "ietf-l2vpn-svc"


def _unprefixed(value: Any) -> Any:
    """An identity value without its module prefix."""
    return value.rpartition(":")[2] if isinstance(value, str) else value


def _choices(name: str) -> AliasChoices:
    """A top-level member, with its module prefix (as RESTCONF sends it) or without."""
    return AliasChoices(f"{MODULE}:{name}", name)


Identity = BeforeValidator(_unprefixed)


class _Yang(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class VpnService(_Yang):
    vpn_id: Name = Field(alias="vpn-id")
    vpn_svc_type: Annotated[Literal["vpws", "vpls"], Identity] = Field(alias="vpn-svc-type")
    svc_topo: Annotated[Literal["any-to-any"], Identity] = Field("any-to-any", alias="svc-topo")
    customer_name: str | None = Field(None, alias="customer-name")


class VpnServices(_Yang):
    """``{"ietf-l2vpn-svc:vpn-service": [...]}``."""

    vpn_service: list[VpnService] = Field(min_length=1, validation_alias=_choices("vpn-service"))


class VpnAttachment(_Yang):
    vpn_id: Name = Field(alias="vpn-id")
    site_role: Annotated[str, Identity] | None = Field(None, alias="site-role")


class Dot1q(_Yang):
    cvlan_id: int = Field(ge=1, le=4094, alias="cvlan-id")


class TaggedInterface(_Yang):
    dot1q_vlan_tagged: Dot1q | None = Field(None, alias="dot1q-vlan-tagged")


class AccessConnection(_Yang):
    encapsulation_type: Annotated[Literal["dot1q-vlan-tagged", "ethernet-type"], Identity] = Field(
        "ethernet-type", alias="encapsulation-type"
    )
    tagged_interface: TaggedInterface | None = Field(None, alias="tagged-interface")

    @model_validator(mode="after")
    def _tagged_has_vlan(self) -> AccessConnection:
        tagged = self.tagged_interface
        if self.encapsulation_type == "dot1q-vlan-tagged" and (
            tagged is None or tagged.dot1q_vlan_tagged is None
        ):
            raise ValueError("dot1q-vlan-tagged needs tagged-interface/dot1q-vlan-tagged/cvlan-id")
        return self


class Bearer(_Yang):
    bearer_reference: str = Field(
        min_length=1, alias="bearer-reference", description="DEVICE:PORT (names) or a port id"
    )


class AccessService(_Yang):
    svc_input_bandwidth: NonNegativeInt | None = Field(None, alias="svc-input-bandwidth")
    svc_output_bandwidth: NonNegativeInt | None = Field(None, alias="svc-output-bandwidth")
    svc_mtu: PositiveInt | None = Field(None, alias="svc-mtu")


class SiteNetworkAccess(_Yang):
    network_access_id: Name = Field(alias="network-access-id")
    vpn_attachment: VpnAttachment = Field(alias="vpn-attachment")
    connection: AccessConnection = Field(default_factory=AccessConnection)
    bearer: Bearer
    service: AccessService = Field(default_factory=AccessService)

    @property
    def bandwidth_bps(self) -> int | None:
        """The larger of the access's input and output bandwidths, if it gives one."""
        given = (self.service.svc_input_bandwidth, self.service.svc_output_bandwidth)
        return max((b for b in given if b is not None), default=None)


class SiteNetworkAccesses(_Yang):
    """``{"ietf-l2vpn-svc:site-network-access": [...]}`` (POSTed to one site)."""

    site_network_access: list[SiteNetworkAccess] = Field(
        min_length=1, validation_alias=_choices("site-network-access")
    )


class _AccessList(_Yang):
    site_network_access: list[SiteNetworkAccess] = Field(min_length=1, alias="site-network-access")


class Site(_Yang):
    site_id: Name = Field(alias="site-id")
    site_network_accesses: _AccessList = Field(alias="site-network-accesses")


class _SiteList(_Yang):
    site: list[Site] = Field(min_length=1)


class _Sites(_Yang):
    sites: _SiteList


class L2vpnSites(_Yang):
    """The standard form: ``{"ietf-l2vpn-svc:l2vpn-svc": {"sites": {"site": [...]}}}``."""

    l2vpn_svc: _Sites = Field(validation_alias=_choices("l2vpn-svc"))
