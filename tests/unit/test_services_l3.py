"""L3VPN services: exact rules over a path and a tree, the gateway ARP and echo replies,
and the service end to end on emulated switches (active, ARP and ping answered on its
ports only, bad addressing refused with nothing stored, delete leaves no rule)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from os_ken.lib.packet import ethernet, ipv4, packet
from os_ken.lib.packet import icmp as icmp_packet

from netweave.bus import InProcessBus
from netweave.controller import packets as pk
from netweave.controller.gateway import Gateway, arp_reply, asked
from netweave.drivers import PacketIn
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.inventory import Invalid, Inventory, load_descriptor
from netweave.inventory.inputs import DeviceUpdate, EndpointUpdate, ServiceCreate, ServiceUpdate
from netweave.model import Connection, Device, DeviceType, Hop, ServiceStatus
from netweave.model.ids import device_id, endpoint_id, service_id
from netweave.services import owner_of
from netweave.services.l3 import Site, gateway_mac, l3vpn_rules
from netweave.store import Store
from netweave.testing import emulated_services, eventually

OWNER = owner_of("svc")
GW_MAC = "02:00:00:00:00:aa"
SITES = [
    Site(ipaddress.IPv4Network("10.1.0.0/24"), "00:00:00:00:00:01", "10.1.0.254"),
    Site(ipaddress.IPv4Network("10.2.0.0/24"), "00:00:00:00:00:02", "10.2.0.254"),
    Site(ipaddress.IPv4Network("10.3.0.0/16"), "00:00:00:00:00:03", "10.3.255.254"),
]
PORTS = {"a-edge": 3, "a-up": 1, "b-down": 1, "b-up": 2, "c-down": 2, "c-edge": 3}
PORTS |= {"b-side": 3, "d-down": 1, "d-edge": 2, "a-two": 4}
TAG = [
    {"type": "push_vlan", "ethertype": 0x8100},
    {"type": "set_field", "field": "vlan_vid", "value": 100},
]
POP = {"type": "pop_vlan"}


def branch(name: str, *hops: tuple[str, str, str]) -> Connection:
    return Connection(
        id=name,
        name=name,
        service_id="svc",
        hops=[Hop(device_id=d, ingress_endpoint_id=i, egress_endpoint_id=e) for d, i, e in hops],
        vlan_id=100,
    )


A_TO_C = branch(
    "branch-001", ("A", "a-edge", "a-up"), ("B", "b-down", "b-up"), ("C", "c-down", "c-edge")
)
A_TO_D = branch(
    "branch-002", ("A", "a-edge", "a-up"), ("B", "b-down", "b-side"), ("D", "d-down", "d-edge")
)


def out(port: int | str) -> dict[str, object]:
    return {"type": "output", "port": port}


def flow(match: dict[str, object], actions: list[dict[str, object]]) -> dict[str, object]:
    return {
        "kind": "flow",
        "table_id": 0,
        "priority": 30000,
        "match": match,
        "actions": actions,
        "idle_timeout": 0,
        "hard_timeout": 0,
    }


def punts(device: str, port: int, gateway: str) -> list[tuple[str, object]]:
    """The gateway's ARP requests and pings from `port` to the controller."""
    arp = {"in_port": port, "eth_type": 0x0806, "arp_op": 1, "arp_tpa": gateway}
    ping = {
        "in_port": port,
        "eth_type": 0x0800,
        "ip_proto": 1,
        "ipv4_dst": gateway,
        "icmpv4_type": 8,
    }
    return [(device, flow(match, [out("controller")])) for match in (arp, ping)]


def sent(device: str, port: int, site: int, *tail: dict[str, object]) -> tuple[str, object]:
    """A host's packet for `site`: routed (TTL decremented, MACs rewritten) where it enters."""
    match = {"in_port": port, "eth_type": 0x0800, "ipv4_dst": str(SITES[site].subnet)}
    rewrite = [
        {"type": "dec_nw_ttl"},
        {"type": "set_field", "field": "eth_src", "value": GW_MAC},
        {"type": "set_field", "field": "eth_dst", "value": SITES[site].mac},
    ]
    return device, flow(match, [*rewrite, *tail])


def carried(device: str, port: int, site: int, *actions: dict[str, object]) -> tuple[str, object]:
    """A routed packet for `site` on the tree (tagged)."""
    subnet = str(SITES[site].subnet)
    match = {"in_port": port, "vlan_vid": 100, "eth_type": 0x0800, "ipv4_dst": subnet}
    return device, flow(match, list(actions))


def test_two_hosts_over_three_switches_route_both_ways_and_punt_gateway_requests() -> None:
    rules = l3vpn_rules(OWNER, [A_TO_C], PORTS, SITES[:2], GW_MAC)
    assert [(r.device_id, r.value) for r in rules] == [
        *punts("A", 3, "10.1.0.254"),
        *punts("C", 3, "10.2.0.254"),
        carried("A", 1, 0, POP, out(3)),
        carried("B", 2, 0, out(1)),
        sent("C", 3, 0, *TAG, out(2)),
        sent("A", 3, 1, *TAG, out(1)),
        carried("B", 1, 1, out(2)),
        carried("C", 2, 1, POP, out(3)),
    ]
    assert all(r.owner == OWNER for r in rules)
    assert len({(r.device_id, r.key) for r in rules}) == len(rules)


def test_three_hosts_over_a_tree_route_every_pair_along_it() -> None:
    rules = l3vpn_rules(OWNER, [A_TO_C, A_TO_D], PORTS, SITES, GW_MAC)
    assert [(r.device_id, r.value) for r in rules] == [
        *punts("A", 3, "10.1.0.254"),
        *punts("C", 3, "10.2.0.254"),
        *punts("D", 2, "10.3.255.254"),
        # to the first host (A:3): down to the root
        carried("A", 1, 0, POP, out(3)),
        carried("B", 2, 0, out(1)),
        carried("B", 3, 0, out(1)),
        sent("C", 3, 0, *TAG, out(2)),
        sent("D", 2, 0, *TAG, out(1)),
        # to the second (C:3): from the root and across B from D's branch
        sent("A", 3, 1, *TAG, out(1)),
        carried("B", 1, 1, out(2)),
        carried("B", 3, 1, out(2)),
        carried("C", 2, 1, POP, out(3)),
        sent("D", 2, 1, *TAG, out(1)),
        # to the third (D:2)
        sent("A", 3, 2, *TAG, out(1)),
        carried("B", 1, 2, out(3)),
        carried("B", 2, 2, out(3)),
        sent("C", 3, 2, *TAG, out(2)),
        carried("D", 1, 2, POP, out(2)),
    ]


def test_hosts_on_one_switch_are_routed_untagged() -> None:
    same = branch("branch-001", ("A", "a-edge", "a-two"))
    rules = l3vpn_rules(OWNER, [same], PORTS, SITES[:2], GW_MAC)
    assert [(r.device_id, r.value) for r in rules] == [
        *punts("A", 3, "10.1.0.254"),
        *punts("A", 4, "10.2.0.254"),
        sent("A", 4, 0, out(3)),
        sent("A", 3, 1, out(4)),
    ]


def test_gateway_mac_is_locally_administered_unicast_and_per_service() -> None:
    mac = gateway_mac("svc")
    assert mac == gateway_mac("svc") != gateway_mac("other")
    first = int(mac.split(":")[0], 16)
    assert first & 0b10 and not first & 0b1
    assert len(pk.mac_bytes(mac)) == 6


def test_arp_reply_answers_the_request_with_the_gateway_mac() -> None:
    request = pk.Arp(1, "00:00:00:00:00:01", "10.1.0.1", "00:00:00:00:00:00", "10.1.0.254")
    frame = pk.parse_ethernet(arp_reply(request, GW_MAC))
    assert frame is not None
    assert (frame.dst, frame.src, frame.ethertype) == ("00:00:00:00:00:01", GW_MAC, pk.ETH_ARP)
    assert pk.parse_arp(frame.payload) == pk.Arp(
        2, GW_MAC, "10.1.0.254", "00:00:00:00:00:01", "10.1.0.1"
    )


H1_MAC = "00:00:00:00:00:01"


def oskenned_ping(src: str, dst: str, ip: dict[str, object], icmp: dict[str, object]) -> bytes:
    """An Ethernet frame carrying an ICMP echo message, built by os-ken's packet library
    (which computes both checksums itself and pads the frame to 60 bytes)."""
    frame = packet.Packet()
    frame.add_protocol(ethernet.ethernet(dst=dst, src=src, ethertype=pk.ETH_IPV4))
    frame.add_protocol(ipv4.ipv4(proto=pk.IP_PROTO_ICMP, **ip))
    frame.add_protocol(icmp_packet.icmp(**icmp))
    frame.serialize()
    return bytes(frame.data)


def ones_complement_sum(data: bytes) -> int:
    """The one's complement sum of the 16-bit words of `data`, by modular arithmetic
    (0xFFFF exactly when `data` carries a correct Internet checksum)."""
    words = sum(
        int.from_bytes(data[i : i + 2].ljust(2, b"\0"), "big") for i in range(0, len(data), 2)
    )
    return words % 0xFFFF or 0xFFFF


@pytest.mark.parametrize("data", [b"hi", bytes(range(56)), b"odd"])
def test_echo_reply_answers_a_ping_byte_for_byte(data: bytes) -> None:
    request = oskenned_ping(
        H1_MAC,
        GW_MAC,
        {"src": "10.1.0.1", "dst": "10.1.0.254", "ttl": 64, "identification": 0x4242},
        {"type_": 8, "code": 0, "data": icmp_packet.echo(id_=0x1234, seq=7, data=data)},
    )
    frame = pk.parse_ethernet(request)
    assert frame is not None
    question = asked(frame)
    assert question is not None
    ethertype, address, answer = question
    assert (ethertype, address) == (pk.ETH_IPV4, "10.1.0.254")
    reply = answer(GW_MAC)
    expected = oskenned_ping(
        GW_MAC,
        H1_MAC,
        {"src": "10.1.0.254", "dst": "10.1.0.1", "ttl": 64, "flags": 2, "identification": 0},
        {"type_": 0, "code": 0, "data": icmp_packet.echo(id_=0x1234, seq=7, data=data)},
    )
    assert len(reply) == 14 + 20 + 8 + len(data)  # the request's Ethernet padding dropped
    assert reply == expected[: len(reply)]
    assert ones_complement_sum(reply[14:34]) == 0xFFFF  # IPv4 header
    assert ones_complement_sum(reply[34:]) == 0xFFFF  # ICMP message


def ipv4_frame(proto: int, icmp_type: int, *, corrupt: bool = False) -> pk.Ethernet:
    """h1's packet to its gateway carrying an ICMP echo message (its checksum broken)."""
    echo = pk.build_icmp_echo(pk.IcmpEcho(icmp_type, 1, 1, b"x"))
    if corrupt:
        echo = echo[:-1] + b"y"
    datagram = pk.build_ipv4(pk.Ipv4("10.1.0.1", "10.1.0.254", proto, echo))
    return pk.Ethernet(GW_MAC, H1_MAC, pk.ETH_IPV4, datagram)


def test_only_echo_requests_are_asked_of_a_gateway() -> None:
    assert asked(ipv4_frame(pk.IP_PROTO_ICMP, pk.ICMP_ECHO_REQUEST)) is not None
    assert asked(ipv4_frame(pk.IP_PROTO_ICMP, pk.ICMP_ECHO_REPLY)) is None
    assert asked(ipv4_frame(pk.IP_PROTO_ICMP, pk.ICMP_ECHO_REQUEST, corrupt=True)) is None
    assert asked(ipv4_frame(17, pk.ICMP_ECHO_REQUEST)) is None  # UDP
    assert asked(pk.Ethernet(GW_MAC, H1_MAC, pk.ETH_LLDP, b"")) is None


# -- end to end on emulated switches --------------------------------------------------------


def _host(name: str, n: int, ip: str | None = None, gateway: str | None = None) -> str:
    gw = (f", ip: {ip}" if ip else "") + (f", gateway: {gateway}" if gateway else "")
    port = "ports: [{name: eth0}]"
    return f"- {{name: {name}, type: host, {port}, mac: '00:00:00:00:00:0{n}'{gw}}}\n"


# s1 - s2 - s3 in a line; h1 and h4 on s1, h3 and h6 on s2, h2 and h5 on s3 (ports 3, 4).
LINE = (
    "name: line\ndevices:\n"
    + "".join(
        f"- {{name: {s}, drivers: [emulated], ports: [{{name: eth1, number: 1}}, {{name: eth2,"
        f" number: 2}}, {{name: eth3, number: 3}}, {{name: eth4, number: 4}}]}}\n"
        for s in ("s1", "s2", "s3")
    )
    + _host("h1", 1, "10.1.0.1/24", "10.1.0.254")
    + _host("h2", 2, "10.2.0.1/24", "10.2.0.254")
    + _host("h3", 3, "10.3.0.1/24", "10.3.0.254")
    + _host("h4", 4, "10.1.0.9/24", "10.1.0.254")
    + _host("h5", 5, "10.5.0.1/24")
    + _host("h6", 6)
    + "links:\n"
    + "".join(
        f"- {{a: {{device: {a}, port: {pa}}}, b: {{device: {b}, port: {pb}}}}}\n"
        for a, pa, b, pb in (
            ("s1", "eth1", "s2", "eth1"),
            ("s2", "eth2", "s3", "eth1"),
            ("h1", "eth0", "s1", "eth3"),
            ("h4", "eth0", "s1", "eth4"),
            ("h3", "eth0", "s2", "eth3"),
            ("h2", "eth0", "s3", "eth3"),
            ("h5", "eth0", "s3", "eth4"),
            ("h6", "eth0", "s2", "eth4"),
        )
    )
)
SWITCHES = ("s1", "s2", "s3")


@dataclass
class Net:
    store: Store
    inventory: Inventory
    network: EmulatedNetwork
    gateway: Gateway
    h1_frames: list[bytes]

    def create(self, name: str, *hosts: str) -> None:
        refs = [{"device": host, "endpoint": "eth0"} for host in hosts]
        spec = {"name": name, "type": "l3vpn", "endpoints": refs}
        self.inventory.create_service(ServiceCreate.model_validate(spec))

    def status(self, name: str) -> ServiceStatus | None:
        with self.store.read() as repo:
            found = repo.services.find(service_id(name))
        return found.status if found else None

    def on_switches(self) -> int:
        return sum(len(self.network.rules(s)) for s in SWITCHES)

    def ask(self, port: int, gateway: str) -> PacketIn:
        """h1's ARP request for `gateway`, as punted from s1's `port`."""
        request = pk.Arp(1, "00:00:00:00:00:01", "10.1.0.1", "00:00:00:00:00:00", gateway)
        data = pk.ethernet(pk.BROADCAST, request.sender_mac, pk.ETH_ARP, pk.build_arp(request))
        return PacketIn(device_id=device_id("s1"), in_port=port, data=data)

    def ping(self, port: int, gateway: str) -> PacketIn:
        """h1's ping of `gateway` (sent to the gateway MAC), as punted from s1's `port`."""
        echo = pk.build_icmp_echo(pk.IcmpEcho(pk.ICMP_ECHO_REQUEST, 1, 1, b"ping"))
        datagram = pk.build_ipv4(pk.Ipv4("10.1.0.1", gateway, pk.IP_PROTO_ICMP, echo))
        data = pk.ethernet(GW_MAC, H1_MAC, pk.ETH_IPV4, datagram)
        return PacketIn(device_id=device_id("s1"), in_port=port, data=data)


@pytest.fixture
async def net(store: Store) -> AsyncIterator[Net]:
    descriptor, _ = load_descriptor(LINE, "line.yaml")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    async with emulated_services(store, descriptor) as run:
        gateway = Gateway(store, run.manager)
        gateway.start()
        h1 = EmulatedPlugin(run.network).create(Device(id="h1", name="h1", type=DeviceType.HOST))
        frames: list[bytes] = []
        await h1.connect()
        h1.subscribe(
            lambda event: frames.append(event.data) if isinstance(event, PacketIn) else None
        )
        try:
            yield Net(store, inventory, run.network, gateway, frames)
        finally:
            await h1.disconnect()


async def test_l3vpn_becomes_active_answers_its_gateways_and_leaves_nothing(net: Net) -> None:
    net.create("routed", "h1", "h2", "h3")
    await eventually(lambda: net.status("routed") is ServiceStatus.ACTIVE)
    # 2 punts per host; per host, an entry flow at each other host's port and 2 on the tree
    assert net.on_switches() == 3 * 2 + 3 * (2 + 2)
    mac = gateway_mac(service_id("routed"))
    net.gateway.handle_packet(net.ask(3, "10.9.9.9"))  # not a gateway: no answer
    net.gateway.handle_packet(net.ask(4, "10.1.0.254"))  # h4's port is not in the service
    net.gateway.handle_packet(net.ping(4, "10.1.0.254"))
    net.gateway.handle_packet(net.ping(3, "10.2.0.254"))  # h2's gateway: not punted here
    net.gateway.handle_packet(net.ask(3, "10.1.0.254"))
    net.gateway.handle_packet(net.ping(3, "10.1.0.254"))
    await eventually(lambda: len(net.h1_frames) == 2)
    frames = {f.ethertype: f for f in map(pk.parse_ethernet, net.h1_frames) if f is not None}
    reply = pk.parse_arp(frames[pk.ETH_ARP].payload)
    assert reply is not None
    assert (frames[pk.ETH_ARP].src, reply.op, reply.sender_mac) == (mac, 2, mac)
    assert reply.sender_ip == "10.1.0.254"
    ip = pk.parse_ipv4(frames[pk.ETH_IPV4].payload)
    assert ip is not None
    assert (frames[pk.ETH_IPV4].src, ip.src, ip.dst) == (mac, "10.1.0.254", "10.1.0.1")
    assert pk.parse_icmp_echo(ip.payload) == pk.IcmpEcho(pk.ICMP_ECHO_REPLY, 1, 1, b"ping")
    net.inventory.delete_service("routed")
    await eventually(lambda: net.status("routed") is None)
    assert net.on_switches() == 0
    assert net.gateway.punts() == {}


@pytest.mark.parametrize(
    ("hosts", "loc", "msg"),
    [
        (("h1", "h5"), ("endpoints", 1), "host h5 has no gateway"),
        (("h6", "h1"), ("endpoints", 0), "host port h6:eth0 has no ip address"),
        (
            ("h1", "h2", "h4"),
            ("endpoints", 2),
            "subnet 10.1.0.0/24 overlaps 10.1.0.0/24 of endpoints[0]",
        ),
    ],
)
async def test_bad_addressing_is_refused_naming_the_endpoint_with_nothing_stored(
    net: Net, hosts: tuple[str, ...], loc: tuple[str | int, ...], msg: str
) -> None:
    with pytest.raises(Invalid) as refused:
        net.create("bad", *hosts)
    [problem] = refused.value.problems
    assert (problem.loc, problem.msg) == (loc, msg)
    with net.store.read() as repo:
        assert repo.services.list() == []
        assert repo.connections.list() == []
        assert repo.rules.count() == 0
    assert net.on_switches() == 0


async def test_l3vpn_member_added_gets_rules_and_a_bad_one_is_refused(net: Net) -> None:
    net.create("routed", "h1", "h2")
    await eventually(lambda: net.status("routed") is ServiceStatus.ACTIVE)
    assert net.on_switches() == 2 * 2 + 2 * (1 + 2)  # punts; per host, entry and 2 on the tree
    members = [{"device": host, "endpoint": "eth0"} for host in ("h1", "h2", "h3")]
    net.inventory.update_service("routed", ServiceUpdate.model_validate({"endpoints": members}))
    await eventually(
        lambda: net.status("routed") is ServiceStatus.ACTIVE and net.on_switches() == 18
    )
    members[2] = {"device": "h4", "endpoint": "eth0"}  # h1's subnet again
    with pytest.raises(Invalid) as refused:
        net.inventory.update_service("routed", ServiceUpdate.model_validate({"endpoints": members}))
    assert refused.value.problems[0].loc == ("endpoints", 2)
    assert net.on_switches() == 18


async def test_a_host_addressed_anew_is_routed_anew(net: Net) -> None:
    net.create("routed", "h1", "h2")
    await eventually(lambda: net.status("routed") is ServiceStatus.ACTIVE)

    def everywhere(text: str) -> bool:
        return any(text in str(rule) for s in SWITCHES for rule in net.network.rules(s).values())

    assert everywhere("00:00:00:00:00:02") and everywhere("10.2.0.0/24")
    net.inventory.update_endpoint(
        endpoint_id("h2", "eth0"), EndpointUpdate(mac="00:00:00:00:00:22", ip="10.7.0.1/24")
    )
    net.inventory.update_device(
        "h2", DeviceUpdate(type=DeviceType.HOST, attributes={"gateway": "10.7.0.254"})
    )
    await eventually(lambda: everywhere("00:00:00:00:00:22") and everywhere("10.7.0.254"))
    await eventually(lambda: net.status("routed") is ServiceStatus.ACTIVE)
    assert not everywhere("00:00:00:00:00:02") and not everywhere("10.2.0.0/24")
