"""The southbound driver contract.

A *driver plugin* (one per driver kind, e.g. ``openflow``) owns what its devices share
(a listening socket, an emulated network) and creates one *driver* per device. A driver
knows devices, never services: it applies and deletes `ConfigRule`s in batches, reports
what the device holds, and pushes device events to its subscribers.

Errors: `DeviceUnreachableError` (temporary: retry after a delay) and
`RuleRejectedError`-style outcomes, which are not raised but reported per rule in
`RuleResult` with the device's own message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from netweave.model import ConfigRule, Device, JsonObject, Mac, OperStatus


class DriverError(Exception):
    """Base of driver errors."""


class DeviceUnreachableError(DriverError):
    """Temporary: the device cannot be reached now; the caller retries later."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PortState(_Frozen):
    name: str
    number: int | None = None
    mac: Mac | None = None
    speed_bps: int | None = None
    status: OperStatus = OperStatus.UNKNOWN


class DeviceState(_Frozen):
    """What a device reports: its status, ports and the netweave rules it holds (by key)."""

    status: OperStatus
    ports: list[PortState] = Field(default_factory=list)
    rules: dict[str, JsonObject] = Field(default_factory=dict, description="rule key -> value")
    attributes: dict[str, str] = Field(default_factory=dict)


BATCH_ABORTED = "batch aborted"
"""How the error of a rule that was fine but went down with its all-or-nothing batch
begins (the rule that failed carries the device's own reason)."""


class RuleResult(_Frozen):
    rule_id: str
    ok: bool
    error: str | None = Field(None, description="the device's own reason when not ok")


class Capabilities(_Frozen):
    rule_kinds: frozenset[str] = frozenset()
    atomic_batches: bool = False
    statistics: bool = False
    packet_io: bool = False


class PortStatusChanged(_Frozen):
    kind: Literal["port_status"] = "port_status"
    device_id: str
    port: PortState


class DeviceStatusChanged(_Frozen):
    kind: Literal["device_status"] = "device_status"
    device_id: str
    status: OperStatus


class PacketIn(_Frozen):
    kind: Literal["packet_in"] = "packet_in"
    device_id: str
    in_port: int
    data: bytes
    reason: str = ""


DriverEvent = PortStatusChanged | DeviceStatusChanged | PacketIn
DriverEventHandler = Callable[[DriverEvent], None]


class Unsubscribe(Protocol):
    def __call__(self) -> None: ...


@runtime_checkable
class Driver(Protocol):
    """One device, as seen through one driver."""

    device: Device
    capabilities: Capabilities

    async def connect(self) -> None:
        """Reach the device; raises `DeviceUnreachableError` when it cannot."""

    async def disconnect(self) -> None:
        """Release the session; idempotent."""

    async def get_state(self) -> DeviceState:
        """Status, ports and the rules currently on the device."""

    async def apply(self, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        """Install or replace `rules` (one result each, same order). With
        `capabilities.atomic_batches`, either all succeed or none is left installed."""

    async def delete(self, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        """Remove `rules`; removing an absent rule succeeds."""

    def subscribe(self, handler: DriverEventHandler) -> Unsubscribe:
        """Call `handler` for every event of this device until unsubscribed."""


@runtime_checkable
class PacketIO(Protocol):
    """Optional: a driver with `capabilities.packet_io` can also send raw frames."""

    async def send_packet(self, port: int, data: bytes) -> None:
        """Emit the Ethernet frame `data` out of port number `port`."""


@runtime_checkable
class PacketInjector(Protocol):
    """Optional: a driver that can run a frame through the device's own forwarding."""

    async def inject_packet(self, in_port: int, data: bytes) -> None:
        """Forward the frame `data` as if it had arrived on port number `in_port`."""


class PortCounters(Protocol):
    """Counters of one port since it came up (OpenFlow port stats carry exactly these)."""

    @property
    def port(self) -> int: ...
    @property
    def rx_packets(self) -> int: ...
    @property
    def tx_packets(self) -> int: ...
    @property
    def rx_bytes(self) -> int: ...
    @property
    def tx_bytes(self) -> int: ...
    @property
    def rx_dropped(self) -> int: ...
    @property
    def tx_dropped(self) -> int: ...
    @property
    def rx_errors(self) -> int: ...
    @property
    def tx_errors(self) -> int: ...


PORT_COUNTERS = (
    "rx_packets",
    "tx_packets",
    "rx_bytes",
    "tx_bytes",
    "rx_dropped",
    "tx_dropped",
    "rx_errors",
    "tx_errors",
)


@runtime_checkable
class StatisticsSource(Protocol):
    """Optional: a driver with `capabilities.statistics` reports port counters."""

    async def port_stats(self) -> Sequence[PortCounters]:
        """The counters of every port."""


class FlowCounters(Protocol):
    """Counters of one rule the device forwards by (e.g. an OpenFlow flow), by its key."""

    @property
    def key(self) -> str: ...
    @property
    def packets(self) -> int: ...
    @property
    def bytes(self) -> int: ...


@runtime_checkable
class FlowStatisticsSource(Protocol):
    """Optional: a driver with `capabilities.statistics` that also counts per rule."""

    async def flow_stats(self) -> Sequence[FlowCounters]:
        """The counters of every netweave rule that counts traffic."""


class MeterCounters(Protocol):
    """Counters of one meter: what entered it and what its bands dropped."""

    @property
    def meter_id(self) -> int: ...
    @property
    def packets_in(self) -> int: ...
    @property
    def bytes_in(self) -> int: ...
    @property
    def dropped_packets(self) -> int: ...
    @property
    def dropped_bytes(self) -> int: ...


@runtime_checkable
class MeterStatisticsSource(Protocol):
    """Optional: a driver with `capabilities.statistics` that also counts per meter."""

    async def meter_stats(self) -> Sequence[MeterCounters]:
        """The counters of every meter on the device."""


@runtime_checkable
class DriverPlugin(Protocol):
    """A kind of driver: started once, creates a `Driver` per device."""

    name: ClassVar[str]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def create(self, device: Device) -> Driver: ...
