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
from netweave.drivers.registry import (
    PluginLoadError,
    Registry,
    UnknownPluginError,
    default_registry,
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
    "PluginLoadError",
    "PortState",
    "PortStatusChanged",
    "Registry",
    "RuleResult",
    "UnknownPluginError",
    "Unsubscribe",
    "default_registry",
]
