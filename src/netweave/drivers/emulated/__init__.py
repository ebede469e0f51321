"""The emulated driver: the driver contract over an in-memory network, with injectable
failures and latency, for unit tests and machines without root."""

from netweave.drivers.contract import BATCH_ABORTED
from netweave.drivers.emulated._driver import EmulatedDriver, EmulatedPlugin
from netweave.drivers.emulated._network import (
    DeviceChange,
    EmulatedNetwork,
    EmulationError,
    PortRef,
    ReceivedFrame,
    RuleMatch,
)

__all__ = [
    "BATCH_ABORTED",
    "DeviceChange",
    "EmulatedDriver",
    "EmulatedNetwork",
    "EmulatedPlugin",
    "EmulationError",
    "PortRef",
    "ReceivedFrame",
    "RuleMatch",
]
