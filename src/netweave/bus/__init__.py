"""The event bus: an interface and its in-process implementation."""

from netweave.bus.base import EventBus, Handler, Subscription
from netweave.bus.inproc import InProcessBus, matches

__all__ = ["EventBus", "Handler", "InProcessBus", "Subscription", "matches"]
