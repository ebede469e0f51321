"""`OpenFlowPlugin` (the listener shared by all switches) and `OpenFlowDriver` (one switch).

A device is bound to its switch by ``device.attributes["datapath_id"]`` (16 hex digits;
``0x`` and colons accepted). The driver follows the switch across reconnects: a new
session replaces the old one, `DeviceStatusChanged` reports ``down`` and ``up``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

from netweave.drivers.contract import (
    Capabilities,
    DeviceState,
    DeviceStatusChanged,
    DeviceUnreachableError,
    DriverError,
    DriverEvent,
    DriverEventHandler,
    PacketIn,
    PortStatusChanged,
    RuleResult,
    Unsubscribe,
)
from netweave.drivers.openflow import batch, codec, readback
from netweave.drivers.openflow.rules import (
    COOKIE_MARKER,
    COOKIE_MARKER_MASK,
    OpenFlowRule,
    canonical_value,
    rule_key,
)
from netweave.drivers.openflow.server import (
    DatapathListener,
    OpenFlowServer,
    ServerSettings,
)
from netweave.drivers.openflow.session import (
    PacketReceived,
    PortChanged,
    Session,
    SessionClosedError,
    SwitchEvent,
)
from netweave.drivers.openflow.stats import FlowStats, MeterStats, PortStats
from netweave.drivers.openflow.wire import ProtocolError
from netweave.model import ConfigRule, Device, JsonObject, OperStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

_DPID = re.compile(r"^[0-9a-f]{1,16}$")


class InvalidDeviceError(DriverError, ValueError):
    """The device cannot be driven by OpenFlow as described (permanent)."""


def normalise_datapath_id(value: str) -> str:
    """16 lower-case hex digits of a datapath id given with or without ``0x``/colons."""
    digits = value.strip().lower().removeprefix("0x").replace(":", "")
    if not _DPID.match(digits):
        raise ValueError(f"datapath_id {value!r} is not a 64-bit hex number")
    return digits.zfill(16)


class OpenFlowDriver:
    """One OpenFlow 1.3 switch."""

    capabilities = Capabilities(
        rule_kinds=frozenset({"flow", "group", "meter"}),
        atomic_batches=True,
        statistics=True,
        packet_io=True,
    )

    def __init__(self, device: Device, server: OpenFlowServer, connect_timeout: float) -> None:
        raw = device.attributes.get("datapath_id")
        if raw is None:
            raise InvalidDeviceError(f"device {device.name}: attributes.datapath_id is missing")
        try:
            self.datapath_id = normalise_datapath_id(raw)
        except ValueError as exc:
            raise InvalidDeviceError(f"device {device.name}: attributes.{exc}") from None
        self.device = device
        self._server = server
        self._connect_timeout = connect_timeout
        self._handlers: list[DriverEventHandler] = []
        self._unwatch: Unsubscribe | None = None

    async def connect(self) -> None:
        if self._unwatch is None:
            self._unwatch = self._server.watch(self.datapath_id, self)
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._server.wait_for(self.datapath_id)
        except TimeoutError:
            raise DeviceUnreachableError(
                f"switch {self.datapath_id} ({self.device.name}) has not connected "
                f"within {self._connect_timeout}s"
            ) from None

    async def disconnect(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    async def get_state(self) -> DeviceState:
        session = self._session()
        try:
            rules = await self._rules(session)
        except (SessionClosedError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        return DeviceState(
            status=OperStatus.UP,
            ports=[session.ports[number] for number in sorted(session.ports)],
            rules=rules,
            attributes={"datapath_id": self.datapath_id, "peer": session.peer},
        )

    async def apply(self, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        if not rules:
            return []
        session = self._session()
        try:
            return await batch.apply(session, rules)
        except (SessionClosedError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc

    async def delete(self, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        if not rules:
            return []
        session = self._session()
        try:
            return await batch.delete(session, rules)
        except (SessionClosedError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc

    def subscribe(self, handler: DriverEventHandler) -> Unsubscribe:
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    async def send_packet(self, port: int, data: bytes) -> None:
        """Emit the Ethernet frame `data` out of port number `port` (a packet-out)."""
        self._send(codec.packet_out(port, data))

    async def inject_packet(self, in_port: int, data: bytes) -> None:
        """Run the frame `data` through the switch's flow tables as if it had arrived on
        port number `in_port` (a packet-out to ``OFPP_TABLE``)."""
        self._send(codec.table_packet_out(in_port, data))

    async def flow_stats(self) -> list[FlowStats]:
        """Counters of every netweave flow on the switch."""
        session = self._session()
        try:
            entries = await session.multipart(
                codec.flow_stats_request(COOKIE_MARKER << 48, COOKIE_MARKER_MASK),
                readback.table_entries,
            )
        except (SessionClosedError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        return [entry.stats() for entry in self._readable(readback.flow_entry, entries)]

    async def meter_stats(self) -> list[MeterStats]:
        """Counters of every meter of the switch."""
        session = self._session()
        try:
            entries = await session.multipart(
                codec.meter_stats_request(), readback.meter_stats_entries
            )
        except (SessionClosedError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        return [readback.meter_stats(entry) for entry in entries]

    async def port_stats(self) -> list[PortStats]:
        """Counters of every port of the switch (reserved ports excluded)."""
        session = self._session()
        try:
            entries = await session.multipart(
                codec.port_stats_request(), readback.port_stats_entries
            )
        except (SessionClosedError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        counters = [readback.port_stats(entry) for entry in entries]
        return [c for c in counters if readback.is_physical(c.port)]

    # --- DatapathWatcher ----------------------------------------------------------------------

    def session_up(self, session: Session) -> None:
        self._emit(DeviceStatusChanged(device_id=self.device.id, status=OperStatus.UP))

    def session_down(self, session: Session) -> None:
        self._emit(DeviceStatusChanged(device_id=self.device.id, status=OperStatus.DOWN))

    def switch_event(self, event: SwitchEvent) -> None:
        if isinstance(event, PortChanged):
            self._emit(PortStatusChanged(device_id=self.device.id, port=event.port))
        elif isinstance(event, PacketReceived):
            self._emit(
                PacketIn(
                    device_id=self.device.id,
                    in_port=event.in_port,
                    data=event.data,
                    reason=event.reason,
                )
            )

    # --- internals ------------------------------------------------------------------------------

    def _session(self) -> Session:
        session = self._server.session(self.datapath_id)
        if session is None:
            raise DeviceUnreachableError(
                f"switch {self.datapath_id} ({self.device.name}) is not connected"
            )
        return session

    def _send(self, message: Any) -> None:
        session = self._session()
        try:
            session.send(codec.encode(message, session.next_xid()))
        except SessionClosedError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> DeviceUnreachableError:
        return DeviceUnreachableError(f"switch {self.datapath_id} ({self.device.name}): {exc}")

    async def _rules(self, session: Session) -> dict[str, JsonObject]:
        """netweave's flows (by cookie), and all groups and meters, keyed canonically."""
        flows = await session.multipart(
            codec.flow_stats_request(COOKIE_MARKER << 48, COOKIE_MARKER_MASK),
            readback.table_entries,
        )
        groups = await session.multipart(codec.group_desc_request(), readback.table_entries)
        meters = await session.multipart(codec.meter_config_request(), readback.table_entries)
        typed: list[Iterator[OpenFlowRule]] = [  # streamed: each typed rule dies young
            (flow.rule for flow in self._readable(readback.flow_entry, flows)),
            self._readable(readback.group_rule, groups),
            self._readable(readback.meter_rule, meters),
        ]
        return {rule_key(rule): canonical_value(rule) for rule in itertools.chain(*typed)}

    def _readable(self, read: Callable[[bytes], T], entries: list[bytes]) -> Iterator[T]:
        """The entries netweave can express; others (changed behind our back, or not
        ours) are left out, so the reconciler sees the rule as missing and sets it."""
        for entry in entries:
            try:
                yield read(entry)
            except (ValueError, ProtocolError) as exc:
                log.warning("switch %s: ignoring entry %s: %s", self.datapath_id, entry.hex(), exc)

    def _emit(self, event: DriverEvent) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                log.exception("driver event handler %r failed on %s", handler, event.kind)


class OpenFlowPlugin:
    """Listens for OpenFlow 1.3 switches; creates an `OpenFlowDriver` per device."""

    name: ClassVar[str] = "openflow"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6653,
        *,
        connect_timeout: float = 10.0,
        echo_interval: float = 5.0,
        echo_timeout: float = 15.0,
        request_timeout: float = 60.0,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.server = OpenFlowServer(
            ServerSettings(
                host=host,
                port=port,
                echo_interval=echo_interval,
                echo_timeout=echo_timeout,
                request_timeout=request_timeout,
            )
        )

    @property
    def port(self) -> int:
        """The TCP port switches connect to (the chosen one when 0 was given)."""
        return self.server.port

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def create(self, device: Device) -> OpenFlowDriver:
        return OpenFlowDriver(device, self.server, self.connect_timeout)

    def on_datapath(self, listener: DatapathListener) -> Unsubscribe:
        """Call `listener` with every switch that connects (for discovery/onboarding)."""
        return self.server.on_datapath(listener)
