"""The emulated network: devices with ports, links between ports, per-device rule tables,
and the failures a test injects into them.

Devices and ports are named as in a `TopologyDescriptor`. A change of a port's or a
device's status, and every frame a device receives, is reported at once, synchronously,
to the callbacks that `watch` the device (the drivers), in the order they started
watching.

Frames: a frame sent out of an up, linked port arrives at the peer port if that is up
too; an emulated device hands every frame it receives to its watchers, as if a rule sent
all traffic to the controller. A frame towards an unreachable device, or one nobody
watches, is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from pydantic_core import from_json, to_json

from netweave.drivers.contract import PortState
from netweave.model import ConfigRule, JsonObject, OperStatus, PortSpec, TopologyDescriptor

log = logging.getLogger(__name__)

PortRef = tuple[str, str]
"""(device name, port name)."""


@dataclass(frozen=True)
class ReceivedFrame:
    """A frame that arrived at a device, on the port numbered `in_port`."""

    in_port: int
    data: bytes


@dataclass(frozen=True)
class PortCounters:
    """What an emulated port has carried: frames sent out of it and taken in."""

    port: int
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0


@dataclass(frozen=True)
class FlowCounters:
    """What an emulated rule has matched (the emulation forwards by links, not rules:
    tests say what matched with `EmulatedNetwork.count_flow`)."""

    key: str
    packets: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class MeterCounters:
    """What reached an emulated meter (the frames its flows matched); nothing is dropped:
    the emulation does not police rates."""

    meter_id: int
    packets_in: int = 0
    bytes_in: int = 0
    dropped_packets: int = 0
    dropped_bytes: int = 0


DeviceChange = PortState | OperStatus | ReceivedFrame
"""What a watcher hears: a port's new state, the device's new status, or a frame."""

RuleMatch = Callable[[ConfigRule], bool] | str
"""Which rules fail: a predicate, or a prefix of the rule key."""


class EmulationError(LookupError, ValueError):
    """A request names a device, port or link the emulated network lacks, or would
    break it (a duplicate name, a port in two links)."""


@dataclass
class _Device:
    name: str
    ports: dict[str, PortState] = field(default_factory=dict)
    reachable: bool = True
    rules: dict[str, JsonObject] = field(default_factory=dict)
    watchers: list[Callable[[DeviceChange], None]] = field(default_factory=list)
    counters: dict[int, PortCounters] = field(default_factory=dict)
    flow_counters: dict[str, FlowCounters] = field(default_factory=dict)

    def count(self, port: int, direction: str, size: int) -> None:
        now = self.counters.get(port, PortCounters(port))
        packets, octets = f"{direction}_packets", f"{direction}_bytes"
        self.counters[port] = replace(
            now, **{packets: getattr(now, packets) + 1, octets: getattr(now, octets) + size}
        )


@dataclass(frozen=True, eq=False)
class _Failure:
    match: RuleMatch
    error: str
    device: str | None
    on_delete: bool

    def hits(self, device: str, rule: ConfigRule, deleting: bool) -> bool:
        if self.device not in (None, device) or (deleting and not self.on_delete):
            return False
        if isinstance(self.match, str):
            return rule.key.startswith(self.match)
        return self.match(rule)


class EmulatedNetwork:
    """An in-memory network that `EmulatedDriver`s operate on.

    `latency_s` delays every driver operation that reaches a device (connect, get_state,
    apply, delete, send_packet) by that many seconds, for benchmarks; it is 0 by default.
    """

    def __init__(self, *, latency_s: float = 0.0) -> None:
        self._devices: dict[str, _Device] = {}
        self._links: dict[str, tuple[PortRef, PortRef]] = {}
        self._peers: dict[PortRef, PortRef] = {}
        self._failures: list[_Failure] = []
        self.latency_s = latency_s

    @classmethod
    def from_descriptor(
        cls, descriptor: TopologyDescriptor, *, latency_s: float = 0.0
    ) -> EmulatedNetwork:
        """A network of the descriptor's devices, ports and links, all up and reachable.

        A port that only a link names is added to its device.
        """
        network = cls(latency_s=latency_s)
        for spec in descriptor.devices:
            network.add_device(spec.name, spec.ports)
        for link in descriptor.links:
            ends = [(link.a.device, link.a.port), (link.b.device, link.b.port)]
            for device, port in ends:
                if device not in network._devices:
                    raise EmulationError(
                        f"link {link.effective_name!r}: device {device!r} is not in the descriptor"
                    )
                if port not in network._devices[device].ports:
                    network.add_port(device, port)
            network.add_link(ends[0], ends[1], name=link.effective_name)
        return network

    @property
    def latency_s(self) -> float:
        return self._latency_s

    @latency_s.setter
    def latency_s(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"latency_s must be >= 0, got {value}")
        self._latency_s = value

    # -- building ------------------------------------------------------------------------

    def add_device(self, name: str, ports: Iterable[str | PortSpec] = ()) -> None:
        """Add a reachable device with `ports` (all up), numbered from 1 unless given."""
        if name in self._devices:
            raise EmulationError(f"device {name!r} already exists")
        self._devices[name] = _Device(name)
        for port in ports:
            self.add_port(name, port)

    def add_port(self, device: str, port: str | PortSpec) -> None:
        """Add an up port to `device`; without a number it takes the next free one."""
        dev = self._device(device)
        spec = PortSpec(name=port) if isinstance(port, str) else port
        if spec.name in dev.ports:
            raise EmulationError(f"device {device!r} already has a port {spec.name!r}")
        numbers = {p.number for p in dev.ports.values() if p.number is not None}
        number = spec.number if spec.number is not None else max(numbers, default=0) + 1
        if number in numbers:
            raise EmulationError(f"device {device!r} already has a port numbered {number}")
        dev.ports[spec.name] = PortState(
            name=spec.name,
            number=number,
            mac=spec.mac,
            speed_bps=spec.speed_bps,
            status=OperStatus.UP,
        )

    def add_link(self, a: PortRef, b: PortRef, *, name: str | None = None) -> str:
        """Link two existing, unlinked ports; returns the link's name, by default
        ``'<a device>:<a port>--<b device>:<b port>'``."""
        name = name or f"{a[0]}:{a[1]}--{b[0]}:{b[1]}"
        if name in self._links:
            raise EmulationError(f"link {name!r} already exists")
        if a == b:
            raise EmulationError(f"link {name!r} joins port {a[1]!r} of {a[0]!r} to itself")
        for end in (a, b):
            self._port(end)
            if end in self._peers:
                raise EmulationError(
                    f"link {name!r}: port {end[1]!r} of {end[0]!r} is already linked"
                )
        self._links[name] = (a, b)
        self._peers[a] = b
        self._peers[b] = a
        return name

    # -- inspecting ----------------------------------------------------------------------

    def devices(self) -> list[str]:
        return list(self._devices)

    def has_device(self, name: str) -> bool:
        return name in self._devices

    def is_reachable(self, device: str) -> bool:
        return self._device(device).reachable

    def ports(self, device: str) -> list[PortState]:
        return list(self._device(device).ports.values())

    def port_status(self, device: str, port: str) -> OperStatus:
        return self._port((device, port)).status

    def counters(self, device: str) -> list[PortCounters]:
        """The counters of every numbered port of `device`."""
        dev = self._device(device)
        numbers = sorted(p.number for p in dev.ports.values() if p.number is not None)
        return [dev.counters.get(number, PortCounters(number)) for number in numbers]

    def flow_counters(self, device: str) -> list[FlowCounters]:
        """The counters of every rule installed on `device`."""
        dev = self._device(device)
        return [dev.flow_counters.get(key, FlowCounters(key)) for key in dev.rules]

    def meter_counters(self, device: str) -> list[MeterCounters]:
        """The counters of every meter installed on `device`: the sums of its flows'."""
        dev = self._device(device)
        found: list[MeterCounters] = []
        for value in dev.rules.values():
            if value.get("kind") != "meter":
                continue
            meter_id = int(value["meter_id"])
            flows = [
                dev.flow_counters.get(key, FlowCounters(key))
                for key, flow in dev.rules.items()
                if flow.get("kind") == "flow" and flow.get("meter_id") == meter_id
            ]
            found.append(
                MeterCounters(
                    meter_id,
                    packets_in=sum(f.packets for f in flows),
                    bytes_in=sum(f.bytes for f in flows),
                )
            )
        return found

    def count_flow(self, device: str, key: str, packets: int, octets: int) -> None:
        """Count `packets` frames of `octets` bytes in all as matched by the installed
        rule `key` of `device`."""
        dev = self._device(device)
        if key not in dev.rules:
            raise EmulationError(f"device {device!r} holds no rule {key!r}")
        now = dev.flow_counters.get(key, FlowCounters(key))
        dev.flow_counters[key] = FlowCounters(key, now.packets + packets, now.bytes + octets)

    def rules(self, device: str) -> dict[str, JsonObject]:
        """A copy of the rule table of `device`: rule key -> value."""
        return from_json(to_json(self._device(device).rules))  # type: ignore[no-any-return]

    # -- injecting failures ----------------------------------------------------------------

    def set_reachable(self, device: str, reachable: bool) -> None:
        """Make `device` (un)reachable; its watchers hear the new status if it changed."""
        dev = self._device(device)
        if dev.reachable != reachable:
            dev.reachable = reachable
            self._notify(dev, OperStatus.UP if reachable else OperStatus.DOWN)

    def set_port_status(self, device: str, port: str, status: OperStatus) -> None:
        """Set a port's status; a linked port's peer follows (like a pulled cable), and
        the watchers of both devices hear of every port that changed."""
        end = (device, port)
        self._port(end)
        self._set_ends([end, self._peers[end]] if end in self._peers else [end], status)

    def set_link_status(self, name: str, status: OperStatus) -> None:
        """Set both ends of link `name` to `status`."""
        if name not in self._links:
            raise EmulationError(f"no link named {name!r}; links: {_listed(self._links)}")
        self._set_ends(list(self._links[name]), status)

    def fail_rules(
        self,
        match: RuleMatch,
        error: str = "rejected by the emulated device",
        *,
        device: str | None = None,
        on_delete: bool = False,
    ) -> Callable[[], None]:
        """Make the rules that `match` (a predicate, or a key prefix) fail with `error`
        when applied (and deleted, with `on_delete`), on `device` or on any device.

        Returns a function that lifts this failure again.
        """
        if not error:
            raise ValueError("error must be a non-empty message")
        if device is not None:
            self._device(device)
        failure = _Failure(match, error, device, on_delete)
        self._failures.append(failure)

        def lift() -> None:
            if failure in self._failures:
                self._failures.remove(failure)

        return lift

    def clear_failures(self) -> None:
        """Lift every failure injected with `fail_rules`."""
        self._failures.clear()

    # -- the driver side -----------------------------------------------------------------

    def watch(self, device: str, callback: Callable[[DeviceChange], None]) -> Callable[[], None]:
        """Call `callback` with every change of `device`; returns the function that stops."""
        watchers = self._device(device).watchers
        watchers.append(callback)

        def stop() -> None:
            if callback in watchers:
                watchers.remove(callback)

        return stop

    def rejection(self, device: str, rule: ConfigRule, *, deleting: bool) -> str | None:
        """The injected error that `rule` meets on `device`, if any."""
        self._device(device)
        for failure in self._failures:
            if failure.hits(device, rule, deleting):
                return failure.error
        return None

    def write_rules(
        self, device: str, install: Mapping[str, JsonObject], remove: Iterable[str] = ()
    ) -> None:
        """Install (or replace) the rules in `install` and remove the keys in `remove`."""
        dev = self._device(device)
        dev.rules.update(from_json(to_json(install)))  # a copy, 4x faster than deepcopy
        for key in remove:
            dev.rules.pop(key, None)
            dev.flow_counters.pop(key, None)

    def transmit(self, device: str, port_number: int, data: bytes) -> None:
        """Send the frame `data` out of the port of `device` numbered `port_number`."""
        dev = self._device(device)
        port = next((p for p in dev.ports.values() if p.number == port_number), None)
        if port is None:
            numbers = ", ".join(str(p.number) for p in dev.ports.values()) or "none"
            raise EmulationError(
                f"device {device!r} has no port numbered {port_number}; numbers: {numbers}"
            )
        peer = self._peers.get((device, port.name))
        if port.status != OperStatus.UP:
            return
        dev.count(port_number, "tx", len(data))
        if peer is None:
            return
        peer_device, peer_port = self._devices[peer[0]], self._port(peer)
        if peer_device.reachable and peer_port.status == OperStatus.UP and peer_port.number:
            peer_device.count(peer_port.number, "rx", len(data))
            self._notify(peer_device, ReceivedFrame(peer_port.number, data))

    # -- internals -----------------------------------------------------------------------

    def _device(self, name: str) -> _Device:
        try:
            return self._devices[name]
        except KeyError:
            raise EmulationError(
                f"no device named {name!r}; devices: {_listed(self._devices)}"
            ) from None

    def _port(self, end: PortRef) -> PortState:
        dev = self._device(end[0])
        try:
            return dev.ports[end[1]]
        except KeyError:
            raise EmulationError(
                f"device {end[0]!r} has no port {end[1]!r}; ports: {_listed(dev.ports)}"
            ) from None

    def _set_ends(self, ends: list[PortRef], status: OperStatus) -> None:
        for device, port in ends:
            dev = self._devices[device]
            if dev.ports[port].status != status:
                dev.ports[port] = dev.ports[port].model_copy(update={"status": status})
                self._notify(dev, dev.ports[port])

    @staticmethod
    def _notify(dev: _Device, change: DeviceChange) -> None:
        for callback in list(dev.watchers):
            try:
                callback(change)
            except Exception:
                log.exception("watcher %r of device %r failed on %r", callback, dev.name, change)


def _listed(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"
