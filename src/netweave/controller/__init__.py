"""The controller: device sessions, rule reconciliation, topology and host discovery."""

from netweave.controller.backoff import Backoff
from netweave.controller.device_manager import DeviceManager

__all__ = ["Backoff", "DeviceManager"]
