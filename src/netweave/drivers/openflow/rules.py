"""Typed payloads of OpenFlow config rules, their canonical keys and cookies.

A `ConfigRule.value` for this driver is one of `FlowRule`, `GroupRule` or `MeterRule`,
told apart by ``kind``. Values are normalised on validation (MACs lower case, IP
prefixes to their network address, reserved ports by name), so the canonical form
`canonical_value` returns is exactly what `get_state` reads back from the switch.

Keys (unique per device, recomputable from what the switch reports):

* flow: ``/flow/table=<t>/priority=<p>/match=<f1>=<v1>,<f2>=<v2>`` (fields in OXM order;
  ``match=*`` when empty). OpenFlow identifies a flow by exactly these three things.
* group: ``/group/<group_id>``; meter: ``/meter/<meter_id>``.

Every flow netweave installs carries `cookie_for(key)`: `COOKIE_MARKER` in the top 16
bits and a hash of the key below, so flows of other controllers are told apart.
Groups and meters have no cookie: netweave owns the switch's group and meter tables.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from netweave.model import ConfigRule, Mac
from netweave.model.ids import rule_id

COOKIE_MARKER: Final = 0x4E57  # "NW"
COOKIE_MARKER_MASK: Final = 0xFFFF << 48

OFPP_MAX: Final = 0xFFFFFF00
RESERVED_PORTS: Final[dict[str, int]] = {
    "in_port": 0xFFFFFFF8,
    "normal": 0xFFFFFFFA,
    "flood": 0xFFFFFFFB,
    "all": 0xFFFFFFFC,
    "controller": 0xFFFFFFFD,
    "local": 0xFFFFFFFE,
}
RESERVED_PORT_NAMES: Final = {number: name for name, number in RESERVED_PORTS.items()}

U8 = Annotated[int, Field(ge=0, le=0xFF)]
U16 = Annotated[int, Field(ge=0, le=0xFFFF)]
U32 = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
U64 = Annotated[int, Field(ge=0, le=0xFFFFFFFFFFFFFFFF)]
TableId = Annotated[int, Field(ge=0, le=254)]
PortNumber = Annotated[int, Field(ge=1, le=OFPP_MAX)]
PortRef = PortNumber | Literal["in_port", "normal", "flood", "all", "controller", "local"]
GroupId = Annotated[int, Field(ge=0, le=0xFFFFFF00)]
MeterId = Annotated[int, Field(ge=1, le=0xFFFF0000)]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _network(value: object, version: int) -> object:
    """``a.b.c.d`` or ``a.b.c.d/len`` (host bits cleared); a full-length prefix drops ``/len``."""
    if not isinstance(value, str):
        return value
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    if "/" not in value:  # fast path for plain addresses, the common case
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, value))
        except OSError:
            pass  # fall through for the full parse and its message
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"not an IP address or prefix: {value!r}") from exc
    if net.version != version:
        raise ValueError(f"expected an IPv{version} address, got {value!r}")
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def _ipv4(value: object) -> object:
    return _network(value, 4)


def _ipv6(value: object) -> object:
    return _network(value, 6)


MacField = Annotated[Mac, BeforeValidator(_lower)]
Ipv4Field = Annotated[str, BeforeValidator(_ipv4)]
Ipv6Field = Annotated[str, BeforeValidator(_ipv6)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@with_config(ConfigDict(extra="forbid"))
class Match(TypedDict, total=False):
    """OXM match fields, declared in OXM field-number order.

    A dict rather than a model: absent fields cost nothing to validate, and validation
    returns the fields in declaration order whatever the input order, so a validated
    match is canonical as it is (this runs once per rule of every batch).

    `vlan_vid` is the VLAN id (0-4095) of a tagged frame; IP fields take an address or a
    prefix. Prerequisites (e.g. ``eth_type=0x0800`` for ``ipv4_dst``) are the switch's
    to check: a missing one comes back as the switch's ``OFPBMC_BAD_PREREQ``.
    """

    in_port: PortNumber
    metadata: U64
    eth_dst: MacField
    eth_src: MacField
    eth_type: U16
    vlan_vid: Annotated[int, Field(ge=0, le=4095)]
    vlan_pcp: Annotated[int, Field(ge=0, le=7)]
    ip_dscp: Annotated[int, Field(ge=0, le=63)]
    ip_proto: U8
    ipv4_src: Ipv4Field
    ipv4_dst: Ipv4Field
    tcp_src: U16
    tcp_dst: U16
    udp_src: U16
    udp_dst: U16
    icmpv4_type: U8
    icmpv4_code: U8
    arp_op: U16
    arp_spa: Ipv4Field
    arp_tpa: Ipv4Field
    ipv6_src: Ipv6Field
    ipv6_dst: Ipv6Field
    mpls_label: Annotated[int, Field(ge=0, le=0xFFFFF)]
    tunnel_id: U64


_MATCH: Final[TypeAdapter[Match]] = TypeAdapter(Match)

MatchFieldName = Literal[
    "in_port", "metadata", "eth_dst", "eth_src", "eth_type", "vlan_vid", "vlan_pcp",
    "ip_dscp", "ip_proto", "ipv4_src", "ipv4_dst", "tcp_src", "tcp_dst", "udp_src",
    "udp_dst", "icmpv4_type", "icmpv4_code", "arp_op", "arp_spa", "arp_tpa", "ipv6_src",
    "ipv6_dst", "mpls_label", "tunnel_id",
]  # fmt: skip


class Output(_Strict):
    type: Literal["output"] = "output"
    port: PortRef


class SetField(_Strict):
    """Rewrite one header field; `value` is validated as the `Match` field of that name."""

    type: Literal["set_field"] = "set_field"
    field: MatchFieldName
    value: int | str

    @model_validator(mode="after")
    def _normalise(self) -> SetField:
        normal = _MATCH.validate_python({self.field: self.value})[self.field]
        object.__setattr__(self, "value", normal)
        return self


class PushVlan(_Strict):
    type: Literal["push_vlan"] = "push_vlan"
    ethertype: Literal[0x8100, 0x88A8] = 0x8100


class PopVlan(_Strict):
    type: Literal["pop_vlan"] = "pop_vlan"


class ToGroup(_Strict):
    type: Literal["group"] = "group"
    group_id: GroupId


class DecNwTtl(_Strict):
    """Decrement the IPv4 TTL (IPv6 hop limit); a packet that arrives with TTL 0 or 1 goes
    no further (the switch drops it, or punts it with reason ``invalid_ttl``)."""

    type: Literal["dec_nw_ttl"] = "dec_nw_ttl"


Action = Annotated[
    Output | SetField | PushVlan | PopVlan | ToGroup | DecNwTtl, Field(discriminator="type")
]


class FlowRule(_Strict):
    """A flow entry. `actions` are applied in order; no actions and no `goto_table`
    drops the packet. `meter_id` meters before the actions run."""

    kind: Literal["flow"] = "flow"
    table_id: TableId = 0
    priority: U16 = 0x8000
    match: Match = Field(default_factory=Match)
    actions: list[Action] = Field(default_factory=list)
    meter_id: MeterId | None = None
    goto_table: TableId | None = None
    idle_timeout: U16 = 0
    hard_timeout: U16 = 0

    @model_validator(mode="after")
    def _goto_forward(self) -> FlowRule:
        if self.goto_table is not None and self.goto_table <= self.table_id:
            raise ValueError(
                f"goto_table {self.goto_table} must be greater than table_id {self.table_id}"
            )
        return self


class Bucket(_Strict):
    """One bucket of a group. `watch_port`/`watch_group` make it live-checked (``ff``)."""

    weight: U16 = 0
    watch_port: PortNumber | None = None
    watch_group: GroupId | None = None
    actions: list[Action] = Field(default_factory=list)


class GroupRule(_Strict):
    kind: Literal["group"] = "group"
    group_id: GroupId
    type: Literal["all", "select", "indirect", "ff"]
    buckets: list[Bucket] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_bucket_for_indirect(self) -> GroupRule:
        if self.type == "indirect" and len(self.buckets) != 1:
            raise ValueError(f"an indirect group has exactly one bucket, got {len(self.buckets)}")
        return self


class MeterRule(_Strict):
    """A meter with one drop band: traffic above `rate_kbps` is dropped."""

    kind: Literal["meter"] = "meter"
    meter_id: MeterId
    rate_kbps: Annotated[int, Field(ge=1, le=0xFFFFFFFF)]
    burst_kbits: Annotated[int, Field(ge=1, le=0xFFFFFFFF)] | None = None


OpenFlowRule = FlowRule | GroupRule | MeterRule
_KINDS: Final[dict[str, type[OpenFlowRule]]] = {
    "flow": FlowRule,
    "group": GroupRule,
    "meter": MeterRule,
}


class RulePayloadError(ValueError):
    """A rule value is not a valid OpenFlow payload; the message names the field."""


def parse_rule(value: dict[str, Any]) -> OpenFlowRule:
    """The typed rule of a `ConfigRule.value`, or `RulePayloadError` naming the bad field.

    Dispatches on ``kind`` itself: validating the model directly is faster than a tagged
    union (this runs once per rule of every batch) and names fields without the tag.
    """
    kind = value.get("kind")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        kinds = ", ".join(_KINDS)
        raise RulePayloadError(f"value.kind: expected one of {kinds}, got {kind!r}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RulePayloadError(f"value.{where}: {first['msg']}") from None


def canonical_value(rule: FlowRule | GroupRule | MeterRule) -> dict[str, Any]:
    """The JSON form of `rule` that `get_state` reports (unset optional fields omitted)."""
    return rule.model_dump(mode="json", exclude_none=True)


def config_rule(owner: str, device_id: str, rule: FlowRule | GroupRule | MeterRule) -> ConfigRule:
    """A `ConfigRule` of `owner` carrying `rule` with its canonical key and value."""
    key = rule_key(rule)
    return ConfigRule(
        id=rule_id(owner, device_id, key),
        owner=owner,
        device_id=device_id,
        key=key,
        value=canonical_value(rule),
    )


def flow_key(table_id: int, priority: int, match: Match) -> str:
    fields = ",".join(f"{name}={value}" for name, value in match.items())
    return f"/flow/table={table_id}/priority={priority}/match={fields or '*'}"


def rule_key(rule: FlowRule | GroupRule | MeterRule) -> str:
    """The canonical `ConfigRule.key` of `rule`."""
    if isinstance(rule, FlowRule):
        return flow_key(rule.table_id, rule.priority, rule.match)
    if isinstance(rule, GroupRule):
        return f"/group/{rule.group_id}"
    return f"/meter/{rule.meter_id}"


def cookie_for(key: str) -> int:
    """The cookie of the flow keyed `key`: the netweave marker and 48 bits of its hash."""
    digest = hashlib.blake2b(key.encode(), digest_size=6).digest()
    return (COOKIE_MARKER << 48) | int.from_bytes(digest, "big")


def is_ours(cookie: int) -> bool:
    return cookie >> 48 == COOKIE_MARKER
