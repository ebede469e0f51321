"""Southbound drivers: the contract, the plugin registry and the built-in drivers."""

from netweave.drivers.contract import (
    Capabilities,
    DeviceState,
    DeviceStatusChanged,
    DeviceUnreachableError,
    Driver,
    DriverError,
    DriverEvent,
    DriverEventHandler,
    DriverPlugin,
    PacketIn,
    PacketIO,
    PortState,
    PortStatusChanged,
    RuleResult,
    Unsubscribe,
)

__all__ = [
    "Capabilities",
    "DeviceState",
    "DeviceStatusChanged",
    "DeviceUnreachableError",
    "Driver",
    "DriverError",
    "DriverEvent",
    "DriverEventHandler",
    "DriverPlugin",
    "PacketIO",
    "PacketIn",
    "PortState",
    "PortStatusChanged",
    "RuleResult",
    "Unsubscribe",
]
