"""Bandwidth of multipoint services on emulated switches: the hose reservation on each
link of the tree, refusals (through the API too) with nothing reserved, exact releases
on update, failure and delete, a meter per site on the edge flows."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_services import GBIT, Net, _host, _link, _switch

from netweave.api import create_app
from netweave.bus import InProcessBus
from netweave.inventory import Invalid, Inventory, load_descriptor
from netweave.inventory.inputs import ServiceCreate, ServiceUpdate
from netweave.model import Connection, Hop, ServiceStatus
from netweave.model.ids import device_id, link_id
from netweave.services.l3 import Site, l3vpn_rules
from netweave.services.routing import Route, _grafted, hose
from netweave.store import Store
from netweave.testing import emulated_services, eventually

MBIT = 1_000_000
SWITCHES = ("s1", "s2", "s3", "s4")
ACCESS = {"h1": "h1:eth0--s1:eth3", "h2": "h2:eth0--s3:eth3", "h3": "h3:eth0--s4:eth3"}
ACCESS |= {"h4": "h4:eth0--s1:eth4"}
OTHERS = {"h5": "h5:eth0--s3:eth4", "h6": "h6:eth0--s4:eth4"}  # for another service
S1_S2, S2_S3, S2_S4 = "s1:eth1--s2:eth1", "s2:eth2--s3:eth1", "s2:eth3--s4:eth1"
TREE_LINKS = (S1_S2, S2_S3, S2_S4, *ACCESS.values())


def tree(s1_s2_bps: int = 1_000 * MBIT, s2_s4_bps: int = GBIT) -> str:
    """s1 - s2 - s3 and s2 - s4 (a tree); h1 and h4 on s1, h2 and h5 on s3, h3 and h6
    on s4; access links of 100 Mbit/s."""
    hosts = ACCESS | OTHERS
    links = [(S1_S2, s1_s2_bps), (S2_S3, GBIT), (S2_S4, s2_s4_bps)]
    links += [(name, 100 * MBIT) for name in hosts.values()]
    return (
        "name: tree\ndevices:\n"
        + "".join(_switch(s, 4) for s in SWITCHES)
        + "".join(_host(h, n) for n, h in enumerate(hosts, start=1))
        + "links:\n"
        + "".join(_link(*name.partition("--")[::2], bps) for name, bps in links)
    )


def lan(name: str, *hosts: str, bandwidth_bps: int | None = None) -> dict[str, Any]:
    ends = [{"device": host, "endpoint": "eth0"} for host in hosts]
    return {
        "name": name,
        "type": "l2vpn",
        "endpoints": ends,
        "constraints": {"bandwidth_bps": bandwidth_bps},
    }


@pytest.fixture
async def net(store: Store) -> AsyncIterator[Net]:
    descriptor, _ = load_descriptor(tree(), "tree.yaml")
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(descriptor)
    async with emulated_services(store, descriptor) as run:
        yield Net(store, inventory, run.network, run.reconciler)


def reserved(net: Net) -> dict[str, int]:
    """What every link of the tree has reserved, in Mbit/s."""
    return {name: net.reserved(name) // MBIT for name in TREE_LINKS}


def hose_of(**mbits: int) -> dict[str, int]:
    return dict.fromkeys(TREE_LINKS, 0) | mbits


def create(net: Net, spec: dict[str, Any]) -> None:
    net.inventory.create_service(ServiceCreate.model_validate(spec))


def hop(device: str, ingress: str, egress: str) -> Hop:
    return Hop(device_id=device, ingress_endpoint_id=ingress, egress_endpoint_id=egress)


def test_hose_reserves_the_busier_direction_of_each_link() -> None:
    # root r; branches r-x-a, r-x-b, r-c: x-a has 1 site beyond it and 3 before, which
    # may all send to a (floods do), so it carries 3 towards a; r-x has 2 and 2
    links = [["r-x", "x-a"], ["r-x", "x-b"], ["r-c"]]
    assert hose(links, 5) == {"r-x": 10, "x-a": 15, "x-b": 15, "r-c": 15}
    # five sites in a line from the root: 1 | 4, 2 | 3, 3 | 2, 4 | 1 on either side
    line = [["1-2", "2-3", "3-4", "4-5"][:n] for n in range(1, 5)]
    assert hose(line, 1) == {"1-2": 4, "2-3": 3, "3-4": 3, "4-5": 4}
    # two sites: each direction carries one site's sending
    assert hose([["a-b"]], 7) == {"a-b": 7}


def test_a_branch_follows_the_tree_up_to_the_last_switch_it_shares_with_it() -> None:
    # the tree reaches A over R - X; the next branch reaches B over R - Y - A: it takes
    # the tree's way to A (its frames do), so that the reservation is the tree's
    tree = [
        Route(
            [hop("R", "r-edge", "r-x"), hop("X", "x-r", "x-a"), hop("A", "a-x", "a-edge")],
            ["r-access", "R-X", "X-A", "a-access"],
        )
    ]
    to_b = [
        ("R", "r-edge", "r-y"),
        ("Y", "y-r", "y-a"),
        ("A", "a-y", "a-b"),
        ("B", "b-a", "b-edge"),
    ]
    own = Route([hop(*h) for h in to_b], ["r-access", "R-Y", "Y-A", "A-B", "b-access"])
    assert _grafted(tree, own, rooted=True) == Route(
        [*tree[0].hops[:2], hop("A", "a-x", "a-b"), hop("B", "b-a", "b-edge")],
        ["r-access", "R-X", "X-A", "A-B", "b-access"],
    )
    assert _grafted([], own, rooted=True) == own


async def test_four_sites_reserve_the_hose_amounts_and_meter_each_site(net: Net) -> None:
    create(net, lan("lan", "h2", "h1", "h3", "h4", bandwidth_bps=10 * MBIT))
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)
    # s2-s3 has 3 sites beyond it and 1 (h2) before: the 3 may all send to h2, 30;
    # s1-s2 has 2 and 2: 20; an access link has its site and the 3 others: 30
    access = dict.fromkeys(ACCESS.values(), 30)
    assert reserved(net) == hose_of(**{S2_S3: 30, S1_S2: 20, S2_S4: 30}, **access)
    rules = [(r.device_id, r.value) for r in net.rules("lan")]
    meters = sorted((d, v["meter_id"]) for d, v in rules if v["kind"] == "meter")
    vlan = 100 << 16  # site i of the service on VLAN 100 has meter 100 * 65536 + i
    s1, s3, s4 = (device_id(s) for s in ("s1", "s3", "s4"))
    assert meters == sorted([(s3, vlan), (s1, vlan + 1), (s4, vlan + 2), (s1, vlan + 3)])
    assert {v["rate_kbps"] for d, v in rules if v["kind"] == "meter"} == {10_000}
    metered = {
        (d, v["match"]["in_port"], v.get("meter_id"))
        for d, v in rules
        if v["kind"] == "flow" and "vlan_vid" not in v["match"]
    }
    assert metered == {(s3, 3, vlan), (s1, 3, vlan + 1), (s4, 3, vlan + 2), (s1, 4, vlan + 3)}
    assert all("meter_id" not in v for _, v in rules if "vlan_vid" in v.get("match", {}))
    assert {r.key for r in net.rules("lan")} == set().union(*net.on_switches().values())


async def test_updates_move_the_reservation_and_delete_releases_it_exactly(net: Net) -> None:
    net.create("p2p", "h5:eth0", "h6:eth0", bandwidth_bps=3 * MBIT)  # stays throughout
    await eventually(lambda: net.status("p2p") is ServiceStatus.ACTIVE)
    alone = reserved(net)
    create(net, lan("lan", "h2", "h1", "h3", "h4", bandwidth_bps=10 * MBIT))
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)

    def plus(lan_mbits: dict[str, int]) -> dict[str, int]:
        return {name: alone[name] + lan_mbits.get(name, 0) for name in TREE_LINKS}

    half = {"constraints": {"bandwidth_bps": 5 * MBIT}, "type": "l2vpn"}
    net.inventory.update_service("lan", ServiceUpdate.model_validate(half))
    access = dict.fromkeys(ACCESS.values(), 15)
    assert reserved(net) == plus({S2_S3: 15, S1_S2: 10, S2_S4: 15, **access})
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)
    assert {r.value["rate_kbps"] for r in net.rules("lan") if r.value["kind"] == "meter"} == {5_000}
    three = {"endpoints": [{"device": h, "endpoint": "eth0"} for h in ("h2", "h1", "h3")]}
    net.inventory.update_service("lan", ServiceUpdate.model_validate(half | three))
    access = dict.fromkeys([ACCESS["h1"], ACCESS["h2"], ACCESS["h3"]], 10)
    assert reserved(net) == plus({S2_S3: 10, S1_S2: 10, S2_S4: 10, **access})  # 1 and 2
    await eventually(lambda: net.status("lan") is ServiceStatus.ACTIVE)
    meters = [r for r in net.rules("lan") if r.value["kind"] == "meter"]
    assert len(meters) == 3
    net.inventory.delete_service("lan")
    await eventually(lambda: net.service("lan") is None)
    assert reserved(net) == alone and net.rules("lan") == []
    assert net.status("p2p") is ServiceStatus.ACTIVE


async def test_a_refused_meter_fails_the_service_and_releases_its_reservation(
    net: Net,
) -> None:
    net.network.fail_rules(lambda rule: "/meter/" in rule.key, "no meters here", device="s4")
    create(net, lan("lan", "h2", "h1", "h3", bandwidth_bps=10 * MBIT))
    await eventually(lambda: net.status("lan") is ServiceStatus.FAILED)
    service = net.service("lan")
    assert service is not None and "no meters here" in (service.status_reason or "")
    assert reserved(net) == hose_of()
    await eventually(lambda: net.on_switches() == {s: set() for s in SWITCHES})


async def test_a_link_short_of_its_hose_amount_refuses_the_service(store: Store) -> None:
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(load_descriptor(tree(s1_s2_bps=15 * MBIT), "tree.yaml")[0])
    four = lan("lan", "h2", "h1", "h4", "h3", bandwidth_bps=10 * MBIT)
    with TestClient(create_app(store, InProcessBus())) as client:
        refused = client.post("/api/v1/services", json=four)
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["constraints", "bandwidth_bps"]
    assert problem["msg"] == (  # s1-s2 carries 2 x 10 Mbit/s each way: h1 and h4 send over it
        f"link {S1_S2!r} has 15000000 bit/s unreserved, 20000000 needed"
        " (2 x the bandwidth: 2 of the 4 sites are on its busier side and may all send"
        " across it)"
    )
    with store.read() as repo:
        assert repo.services.list() == [] and repo.connections.list() == []
        assert {link.reserved_bps for link in repo.links.list()} == {0}
    inventory.create_service(
        ServiceCreate.model_validate(four | {"constraints": {"bandwidth_bps": 7 * MBIT}})
    )
    with store.read() as repo:
        assert repo.links.get(link_id(S1_S2)).reserved_bps == 14 * MBIT
    with pytest.raises(Invalid) as error:  # its own 14 Mbit/s count as free: 18 do not fit
        inventory.update_service(
            "lan",
            ServiceUpdate.model_validate(
                {"type": "l2vpn", "constraints": {"bandwidth_bps": 9 * MBIT}}
            ),
        )
    assert error.value.problems[0].loc == ("constraints", "bandwidth_bps")
    assert "15000000 bit/s unreserved, 18000000 needed" in error.value.problems[0].msg
    with store.read() as repo:
        assert repo.links.get(link_id(S1_S2)).reserved_bps == 14 * MBIT


async def test_a_link_to_one_site_reserves_what_all_the_others_may_send_to_it(
    store: Store,
) -> None:
    inventory = Inventory(store, InProcessBus())
    inventory.import_topology(load_descriptor(tree(s2_s4_bps=25 * MBIT), "tree.yaml")[0])
    for kind in ("l2vpn", "l3vpn"):  # l2vpn floods to h3; l3vpn sites may all send to it
        four = lan("lan", "h2", "h1", "h4", "h3", bandwidth_bps=10 * MBIT) | {"type": kind}
        with pytest.raises(Invalid) as error:
            inventory.create_service(ServiceCreate.model_validate(four))
        [problem] = error.value.problems
        assert problem.loc == ("constraints", "bandwidth_bps")
        assert problem.msg == (
            f"link {S2_S4!r} has 25000000 bit/s unreserved, 30000000 needed"
            " (3 x the bandwidth: 3 of the 4 sites are on its busier side and may all send"
            " across it)"
        )
    with store.read() as repo:
        assert repo.services.list() == [] and repo.connections.list() == []
    eight = lan("lan", "h2", "h1", "h4", "h3", bandwidth_bps=8 * MBIT)
    inventory.create_service(ServiceCreate.model_validate(eight))  # 24 Mbit/s fit
    with store.read() as repo:
        assert repo.links.get(link_id(S2_S4)).reserved_bps == 24 * MBIT


def test_l3vpn_meters_what_each_site_sends_but_not_its_punts() -> None:
    ports = {"a-edge": 3, "a-up": 1, "b-down": 1, "b-up": 2, "b-side": 3, "c-down": 2}
    ports |= {"c-edge": 3, "d-down": 1, "d-edge": 2}
    to_c = [hop("A", "a-edge", "a-up"), hop("B", "b-down", "b-up"), hop("C", "c-down", "c-edge")]
    to_d = [*to_c[:1], hop("B", "b-down", "b-side"), hop("D", "d-down", "d-edge")]
    branches = [
        Connection(id=name, name=name, service_id="svc", hops=hops, vlan_id=100)
        for name, hops in (("branch-001", to_c), ("branch-002", to_d))
    ]
    sites = [
        Site(ipaddress.IPv4Network(f"10.{n}.0.0/24"), f"00:00:00:00:00:0{n}", f"10.{n}.0.254")
        for n in (1, 2, 3)
    ]
    mac = "02:00:00:00:00:aa"
    plain = l3vpn_rules("svc", branches, ports, sites, mac)
    rules = l3vpn_rules("svc", branches, ports, sites, mac, 2_000_000)
    meters = [(r.device_id, r.value) for r in rules if r.value["kind"] == "meter"]
    ident = 100 << 16
    assert meters == [
        (device, {"kind": "meter", "meter_id": ident + n, "rate_kbps": 2000, "burst_kbits": 500})
        for n, device in enumerate("ACD")
    ]
    flows = [r for r in rules if r.value["kind"] == "flow"]
    assert [(r.device_id, r.key) for r in flows] == [(r.device_id, r.key) for r in plain]
    metered = [
        (r.device_id, r.value["match"]["in_port"], r.value["meter_id"])
        for r in flows
        if "meter_id" in r.value
    ]
    edge = {"A": (3, ident), "C": (3, ident + 1), "D": (2, ident + 2)}
    subnets = {str(site.subnet) for site in sites}
    routed = [  # from an edge port (untagged) to a subnet: not the punts, not the tree's
        (r.device_id, *edge[r.device_id])
        for r in flows
        if "vlan_vid" not in r.value["match"] and r.value["match"].get("ipv4_dst") in subnets
    ]
    assert sorted(metered) == sorted(routed) and len(metered) == 6  # 2 other sites each
