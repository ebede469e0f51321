"""What a lab builds for a descriptor: bridges, namespaces and veth pairs, all named.

`plan_lab` checks everything the kernel or Open vSwitch would otherwise reject half-way
(unknown devices, reused ports, clashing port numbers, bad addresses) and raises
`DescriptorError` naming the field, so that building never starts on a bad descriptor.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netweave.lab import naming
from netweave.lab.errors import DescriptorError
from netweave.model import DeviceSpec, DeviceType, LinkEnd, TopologyDescriptor

MAX_OFPORT = 0xFEFF
NAMESPACED = frozenset({DeviceType.HOST, DeviceType.COMPUTE})
BRIDGED = frozenset({DeviceType.SWITCH})


@dataclass(frozen=True)
class End:
    """One end of a veth pair: in a host namespace, or in the root one on a bridge."""

    device: str
    port: str
    ifname: str
    netns: str | None = None
    bridge: str | None = None
    ofport: int | None = None
    mac: str | None = None


@dataclass(frozen=True)
class LinkPlan:
    name: str
    a: End
    b: End
    rate_limit_bps: int | None = None

    @property
    def ends(self) -> tuple[End, End]:
        return (self.a, self.b)


@dataclass(frozen=True)
class SwitchPlan:
    name: str
    bridge: str
    datapath_id: str


@dataclass(frozen=True)
class HostPlan:
    """A host namespace; `ifname` (its first port) carries `ip`, `mac` and the route."""

    name: str
    netns: str
    ifname: str | None = None
    ip: str | None = None
    gateway: str | None = None


@dataclass(frozen=True)
class LabPlan:
    name: str
    prefix: str
    switches: tuple[SwitchPlan, ...]
    hosts: tuple[HostPlan, ...]
    links: tuple[LinkPlan, ...]

    @property
    def root_ifnames(self) -> list[str]:
        """The veth ends left in the root namespace (the switch ports)."""
        return [end.ifname for link in self.links for end in link.ends if end.netns is None]

    @property
    def veth_handles(self) -> list[str]:
        """One root-namespace end of each veth pair that has one: deleting it deletes
        the pair (pairs inside host namespaces go with the namespace)."""
        return [
            next(end.ifname for end in link.ends if end.netns is None)
            for link in self.links
            if None in (link.a.netns, link.b.netns)
        ]


def plan_lab(descriptor: TopologyDescriptor, prefix: str) -> LabPlan:
    """The lab of `descriptor`, its names starting with `prefix`."""
    return _Planner(descriptor, prefix).plan()


class _Planner:
    def __init__(self, descriptor: TopologyDescriptor, prefix: str) -> None:
        self.descriptor = descriptor
        self.prefix = prefix
        self.devices: dict[str, tuple[int, DeviceSpec]] = {}
        self.used: dict[tuple[str, str], int] = {}
        self.bridges: dict[str, str] = {}

    def plan(self) -> LabPlan:
        d = self.descriptor
        if len(d.links) > naming.MAX_ITEMS:
            raise DescriptorError("links", f"a lab holds at most {naming.MAX_ITEMS} links")
        self._index_devices()
        self._check_links()
        switches = self._switches()
        ofports = {(s.name, port): n for s in d.devices for port, n in self._ofports(s).items()}
        hosts = [self._host(i, spec) for i, spec in enumerate(d.devices) if spec.type in NAMESPACED]
        netns = {h.name: h.netns for h in hosts}
        primary = {h.name: h.ifname for h in hosts}
        links = []
        for index, link in enumerate(d.links):
            a, b = (
                self._end(index, side, getattr(link, side), netns, ofports, primary)
                for side in ("a", "b")
            )
            if link.rate_limit_bps == 0:
                raise DescriptorError(f"links[{index}].rate_limit_bps", "must be positive")
            links.append(LinkPlan(link.effective_name, a, b, link.rate_limit_bps))
        return LabPlan(d.name, self.prefix, tuple(switches), tuple(hosts), tuple(links))

    def _index_devices(self) -> None:
        namespaces: dict[str, str] = {}
        for i, spec in enumerate(self.descriptor.devices):
            if spec.name in self.devices:
                raise DescriptorError(f"devices[{i}].name", f"duplicate device {spec.name!r}")
            if spec.type not in NAMESPACED | BRIDGED:
                raise DescriptorError(
                    f"devices[{i}].type",
                    f"the lab builds switch, host and compute devices, not {spec.type.value!r}",
                )
            self.devices[spec.name] = (i, spec)
            names = [port.name for port in spec.ports]
            for j, name in enumerate(names):
                if name in names[:j]:
                    raise DescriptorError(
                        f"devices[{i}].ports[{j}].name", f"duplicate port {name!r}"
                    )
            if spec.type in NAMESPACED:
                netns = naming.netns_name(self.prefix, spec.name)
                if netns in namespaces:
                    raise DescriptorError(
                        f"devices[{i}].name",
                        f"{spec.name!r} and {namespaces[netns]!r} map to one namespace {netns!r}",
                    )
                namespaces[netns] = spec.name

    def _check_links(self) -> None:
        for index, link in enumerate(self.descriptor.links):
            for side in ("a", "b"):
                end: LinkEnd = getattr(link, side)
                if end.device not in self.devices:
                    raise DescriptorError(
                        f"links[{index}].{side}.device", f"unknown device {end.device!r}"
                    )
                key = (end.device, end.port)
                if key in self.used:
                    raise DescriptorError(
                        f"links[{index}].{side}.port",
                        f"port {end.device}:{end.port} is already used by links[{self.used[key]}]",
                    )
                self.used[key] = index

    def _switches(self) -> list[SwitchPlan]:
        switches: list[SwitchPlan] = []
        seen: dict[str, str] = {}
        for i, spec in enumerate(self.descriptor.devices):
            if spec.type not in BRIDGED:
                continue
            field = f"devices[{i}].attributes.datapath_id"
            try:
                dpid = spec.datapath_id
            except ValueError as exc:
                raise DescriptorError(field, str(exc)) from None
            if dpid in seen:
                raise DescriptorError(field, f"{dpid} is already the datapath id of {seen[dpid]!r}")
            seen[dpid] = spec.name
            bridge = naming.bridge_name(self.prefix, len(switches) + 1)
            switches.append(SwitchPlan(spec.name, bridge, dpid))
            self.bridges[spec.name] = bridge
        if len(switches) > naming.MAX_ITEMS:
            raise DescriptorError("devices", f"a lab holds at most {naming.MAX_ITEMS} switches")
        return switches

    def _ports_in_order(self, spec: DeviceSpec) -> list[str]:
        """Declared ports first, then ports only named by links, in link order."""
        ports = [p.name for p in spec.ports]
        linked = [port for (device, port) in self.used if device == spec.name]
        return ports + [p for p in linked if p not in ports]

    def _ofports(self, spec: DeviceSpec) -> dict[str, int]:
        """Switch port numbers: the descriptor's, else the lowest free ones in order."""
        if spec.type not in BRIDGED:
            return {}
        i = self.devices[spec.name][0]
        numbers: dict[str, int] = {}
        for j, port in enumerate(spec.ports):
            if port.number is None:
                continue
            field = f"devices[{i}].ports[{j}].number"
            if not 1 <= port.number <= MAX_OFPORT:
                raise DescriptorError(field, f"must be between 1 and {MAX_OFPORT}")
            if port.number in numbers.values():
                raise DescriptorError(field, f"port number {port.number} is used twice")
            numbers[port.name] = port.number
        free = (n for n in range(1, MAX_OFPORT + 1) if n not in numbers.values())
        for name in self._ports_in_order(spec):
            if name not in numbers:
                numbers[name] = next(free)
        return numbers

    def _host(self, i: int, spec: DeviceSpec) -> HostPlan:
        linked = self._ports_in_order(spec)
        first = next((p for p in linked if (spec.name, p) in self.used), None)
        if spec.ip is not None:
            _check_address(i, spec, has_link=first is not None)
        elif spec.gateway is not None:
            raise DescriptorError(f"devices[{i}].gateway", "needs an ip on the host")
        netns = naming.netns_name(self.prefix, spec.name)
        return HostPlan(spec.name, netns, first, spec.ip, spec.gateway)

    def _end(
        self,
        index: int,
        side: str,
        end: LinkEnd,
        netns: dict[str, str],
        ofports: dict[tuple[str, str], int],
        primary: dict[str, str | None],
    ) -> End:
        i, spec = self.devices[end.device]
        ports = {p.name: p for p in spec.ports}
        mac = ports[end.port].mac if end.port in ports else None
        if spec.type in BRIDGED:
            return End(
                end.device,
                end.port,
                naming.veth_name(self.prefix, index + 1, side),
                bridge=self.bridges[end.device],
                ofport=ofports[(end.device, end.port)],
                mac=mac,
            )
        if not naming.is_ifname(end.port) or end.port == "lo":
            raise DescriptorError(
                f"links[{index}].{side}.port",
                f"{end.port!r} cannot name an interface of a host "
                "(1-15 characters, no '/', ':' or spaces, not 'lo')",
            )
        if primary[end.device] == end.port and spec.mac is not None:
            if mac is not None and mac.lower() != spec.mac.lower():
                raise DescriptorError(
                    f"devices[{i}].mac", f"differs from the MAC of its port {end.port!r}"
                )
            mac = spec.mac
        return End(end.device, end.port, end.port, netns=netns[end.device], mac=mac)


def _check_address(i: int, spec: DeviceSpec, *, has_link: bool) -> None:
    field = f"devices[{i}].ip"
    if not has_link:
        raise DescriptorError(field, "the host has no link to carry this address")
    if spec.ip is None or "/" not in spec.ip:
        raise DescriptorError(field, "give the address in CIDR form, e.g. 10.0.0.1/24")
    try:
        interface = ipaddress.ip_interface(spec.ip)
    except ValueError as exc:
        raise DescriptorError(field, str(exc)) from None
    if spec.gateway is None:
        return
    try:
        gateway = ipaddress.ip_address(spec.gateway)
    except ValueError as exc:
        raise DescriptorError(f"devices[{i}].gateway", str(exc)) from None
    if gateway not in interface.network:
        raise DescriptorError(
            f"devices[{i}].gateway", f"{gateway} is not in the host's network {interface.network}"
        )
