"""The emulated driver and its plugin: the driver contract over an `EmulatedNetwork`.

Events reach subscribers synchronously, from inside the call that changed the network
(e.g. `EmulatedNetwork.set_port_status`, or another driver's `send_packet`), and only
while the driver is connected. A handler that raises is logged and never stops the driver
or the other handlers.

A connected driver stays connected while its device is unreachable (as a session that
retries): operations raise `DeviceUnreachableError` until the device is back, and the
subscribers hear `DeviceStatusChanged` both ways.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import ClassVar

from netweave.drivers.contract import (
    BATCH_ABORTED,
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
from netweave.drivers.emulated._network import (
    DeviceChange,
    EmulatedNetwork,
    EmulationError,
    FlowCounters,
    MeterCounters,
    PortCounters,
    ReceivedFrame,
)
from netweave.model import ConfigRule, Device, OperStatus

log = logging.getLogger(__name__)


class EmulatedDriver:
    """One device of an `EmulatedNetwork`, found by the device's name."""

    capabilities: Capabilities = Capabilities(atomic_batches=True, packet_io=True, statistics=True)

    def __init__(self, network: EmulatedNetwork, device: Device) -> None:
        if not network.has_device(device.name):
            network.add_device(device.name)
        self.device = device
        self._network = network
        self._handlers: list[DriverEventHandler] = []
        self._stop_watching: Callable[[], None] | None = None

    @property
    def connected(self) -> bool:
        return self._stop_watching is not None

    async def connect(self) -> None:
        await self._reach()
        if self._stop_watching is None:
            self._stop_watching = self._network.watch(self.device.name, self._on_change)

    async def disconnect(self) -> None:
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None

    async def get_state(self) -> DeviceState:
        await self._session()
        name = self.device.name
        return DeviceState(
            status=OperStatus.UP, ports=self._network.ports(name), rules=self._network.rules(name)
        )

    async def apply(self, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        await self._session()
        results = self._check(rules, deleting=False)
        if all(result.ok for result in results):
            self._network.write_rules(self.device.name, {rule.key: rule.value for rule in rules})
        return results

    async def delete(self, rules: Sequence[ConfigRule]) -> list[RuleResult]:
        await self._session()
        results = self._check(rules, deleting=True)
        if all(result.ok for result in results):
            self._network.write_rules(self.device.name, {}, [rule.key for rule in rules])
        return results

    async def send_packet(self, port: int, data: bytes) -> None:
        """Send the frame `data` out of port number `port` (see `EmulatedNetwork.transmit`)."""
        await self._session()
        try:
            self._network.transmit(self.device.name, port, data)
        except EmulationError as exc:
            raise DriverError(str(exc)) from None

    async def port_stats(self) -> list[PortCounters]:
        """Frames and bytes each port sent (`send_packet`) and took in."""
        await self._session()
        return self._network.counters(self.device.name)

    async def flow_stats(self) -> list[FlowCounters]:
        """What each installed rule matched (see `EmulatedNetwork.count_flow`)."""
        await self._session()
        return self._network.flow_counters(self.device.name)

    async def meter_stats(self) -> list[MeterCounters]:
        """What reached each installed meter (the sums of its flows' counters)."""
        await self._session()
        return self._network.meter_counters(self.device.name)

    def subscribe(self, handler: DriverEventHandler) -> Unsubscribe:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def _check(self, rules: Sequence[ConfigRule], *, deleting: bool) -> list[RuleResult]:
        """One result per rule: its own error, or, if another rule of the batch failed,
        `BATCH_ABORTED` (the batch is all-or-nothing)."""
        errors = [self._rejection(rule, deleting) for rule in rules]
        failed = next((rule.id for rule, error in zip(rules, errors, strict=True) if error), None)
        if failed is None:
            return [RuleResult(rule_id=rule.id, ok=True) for rule in rules]
        aborted = f"{BATCH_ABORTED}: rule {failed} failed"
        return [
            RuleResult(rule_id=rule.id, ok=False, error=error or aborted)
            for rule, error in zip(rules, errors, strict=True)
        ]

    def _rejection(self, rule: ConfigRule, deleting: bool) -> str | None:
        if rule.device_id != self.device.id:
            return f"rule is for device {rule.device_id}, not {self.device.id}"
        return self._network.rejection(self.device.name, rule, deleting=deleting)

    async def _session(self) -> None:
        if not self.connected:
            raise DriverError(f"emulated device {self.device.name!r}: not connected")
        await self._reach()

    async def _reach(self) -> None:
        """Take the network's latency, then fail if the device is unreachable."""
        if self._network.latency_s:
            await asyncio.sleep(self._network.latency_s)
        if not self._network.is_reachable(self.device.name):
            raise DeviceUnreachableError(f"emulated device {self.device.name!r} is unreachable")

    def _on_change(self, change: DeviceChange) -> None:
        event: DriverEvent
        if isinstance(change, OperStatus):
            event = DeviceStatusChanged(device_id=self.device.id, status=change)
        elif isinstance(change, ReceivedFrame):
            event = PacketIn(device_id=self.device.id, in_port=change.in_port, data=change.data)
        else:
            event = PortStatusChanged(device_id=self.device.id, port=change)
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                log.exception(
                    "event handler %r of %r failed on %r", handler, self.device.name, event
                )


class EmulatedPlugin:
    """Creates `EmulatedDriver`s on one shared `EmulatedNetwork` (a new, empty one by
    default). A device not yet in the network is added to it, without ports."""

    name: ClassVar[str] = "emulated"

    def __init__(self, network: EmulatedNetwork | None = None) -> None:
        self.network = network if network is not None else EmulatedNetwork()
        self._drivers: list[EmulatedDriver] = []

    async def start(self) -> None:
        """Nothing to start: the network lives in memory."""

    async def stop(self) -> None:
        """Disconnect every driver this plugin created."""
        for driver in self._drivers:
            await driver.disconnect()

    def create(self, device: Device) -> EmulatedDriver:
        driver = EmulatedDriver(self.network, device)
        self._drivers.append(driver)
        return driver
