"""The IETF L2VPN NBI (RFC 8466 subset) replaying what OSM's ietfl2vpn WIM connector
sends: create a VPN, attach two accesses, poll it, delete it; both payload forms; bad
payloads are RESTCONF errors naming the node, with nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netweave.api import create_app, inventory_of
from netweave.bus import InProcessBus
from netweave.inventory import Inventory, load_descriptor
from netweave.model import RuleStatus, ServiceType
from netweave.model.ids import endpoint_id
from netweave.services import WAITING_FOR_ENDPOINTS, owner_of
from netweave.store import Store
from netweave.testing import emulated_services, eventually

NODE = "/ietf-l2vpn-svc:l2vpn-svc"
ROOT = f"/restconf/data{NODE}"
VPN_ID = "5b3a4d52-8f2e-4a56-9a8e-3e0c2b7a9f10"

# s1 - s2, each with two host-facing ports; h1, h2 on s1 and h3, h4 on s2 (100 Mbit/s).
TOPOLOGY = """
name: pair
devices:
- name: s1
  drivers: [emulated]
  ports: [{name: eth1, number: 1}, {name: eth2, number: 2}, {name: eth3, number: 3}]
- name: s2
  drivers: [emulated]
  ports: [{name: eth1, number: 1}, {name: eth2, number: 2}, {name: eth3, number: 3}]
- {name: h1, type: host, ports: [{name: eth0}]}
- {name: h2, type: host, ports: [{name: eth0}]}
- {name: h3, type: host, ports: [{name: eth0}]}
- {name: h4, type: host, ports: [{name: eth0}]}
links:
- {a: {device: s1, port: eth1}, b: {device: s2, port: eth1}, capacity_bps: 1000000000}
- {a: {device: h1, port: eth0}, b: {device: s1, port: eth2}, capacity_bps: 100000000}
- {a: {device: h2, port: eth0}, b: {device: s1, port: eth3}, capacity_bps: 100000000}
- {a: {device: h3, port: eth0}, b: {device: s2, port: eth2}, capacity_bps: 100000000}
- {a: {device: h4, port: eth0}, b: {device: s2, port: eth3}, capacity_bps: 100000000}
"""


@pytest.fixture
def client(store: Store, bus: InProcessBus) -> Iterator[TestClient]:
    app = create_app(store, bus)
    inventory_of(app).load_topology(TOPOLOGY)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def inventory(client: TestClient) -> Inventory:
    return inventory_of(client.app)


@pytest.fixture
async def controlled(store: Store, client: TestClient) -> AsyncIterator[None]:
    """Emulated switches for the topology, and the controller parts that serve services."""
    async with emulated_services(store, load_descriptor(TOPOLOGY, "pair.yaml")[0]):
        yield


def vpn(vpn_id: str = VPN_ID, kind: str = "vpws") -> dict[str, Any]:
    service = {"vpn-id": vpn_id, "vpn-svc-type": kind, "svc-topo": "any-to-any"}
    return {"ietf-l2vpn-svc:vpn-service": [service | {"customer-name": "osm"}]}


def access(
    access_id: str, bearer: str, vpn_id: str = VPN_ID, bandwidth: int = 10_000_000
) -> dict[str, Any]:
    """A site-network-access as OSM's connector writes it (a dot1q one)."""
    return {
        "network-access-id": access_id,
        "vpn-attachment": {"vpn-id": vpn_id, "site-role": "any-to-any-role"},
        "connection": {
            "encapsulation-type": "dot1q-vlan-tagged",
            "tagged-interface": {"dot1q-vlan-tagged": {"cvlan-id": 1234}},
        },
        "bearer": {"bearer-reference": bearer},
        "service": {
            "svc-input-bandwidth": bandwidth,
            "svc-output-bandwidth": bandwidth,
            "svc-mtu": 1500,
        },
    }


def accesses(*items: dict[str, Any]) -> dict[str, Any]:
    return {"ietf-l2vpn-svc:site-network-access": list(items)}


def sites(site_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    """The standard form of the same accesses."""
    site = {"site-id": site_id, "site-network-accesses": {"site-network-access": list(items)}}
    return {"ietf-l2vpn-svc:l2vpn-svc": {"sites": {"site": [site]}}}


def errors(response: Any, status: int) -> list[tuple[str, str, str]]:
    """(error-tag, error-path, error-message) of a RESTCONF error response."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/yang-data+json"
    return [
        (e["error-tag"], e["error-path"], e["error-message"])
        for e in response.json()["ietf-restconf:errors"]["error"]
    ]


def post_access(client: TestClient, site: str, body: dict[str, Any]) -> Any:
    return client.post(f"{ROOT}/sites/site={site}/site-network-accesses", json=body)


async def test_osm_call_sequence_creates_polls_until_active_and_deletes_a_vpws(
    client: TestClient, inventory: Inventory, store: Store, controlled: None
) -> None:
    def status() -> Any:
        polled = client.get(f"{ROOT}/vpn-services/vpn-service={VPN_ID}/")
        return polled.json()["ietf-l2vpn-svc:vpn-service"][0]["netweave:status"]

    assert client.post(f"{ROOT}/vpn-services", json=vpn()).status_code == 201
    polled = client.get(f"{ROOT}/vpn-services/vpn-service={VPN_ID}/")
    assert polled.status_code == 200
    (service,) = polled.json()["ietf-l2vpn-svc:vpn-service"]
    assert service == {
        "vpn-id": VPN_ID,
        "vpn-svc-type": "vpws",
        "svc-topo": "any-to-any",
        "customer-name": "osm",
        "netweave:status": "planned",
        "netweave:status-reason": WAITING_FOR_ENDPOINTS,
    }
    assert post_access(client, "site-a", accesses(access("a1", "h1:eth0"))).status_code == 204
    assert inventory.get_service(VPN_ID).status_reason == WAITING_FOR_ENDPOINTS
    port = endpoint_id("h3", "eth0")  # a bearer may also be a port id
    assert post_access(client, "site-b", accesses(access("b1", port))).status_code == 204

    stored = inventory.get_service(VPN_ID)
    assert stored.type is ServiceType.P2P and stored.status_reason is None
    assert [e.endpoint_id for e in stored.endpoints] == [endpoint_id("h1", "eth0"), port]
    assert stored.constraints.bandwidth_bps == 10_000_000
    assert inventory.get_link("h1:eth0--s1:eth2").reserved_bps == 10_000_000
    await eventually(lambda: status() == "active")
    with store.read() as repo:
        assert all(
            r.status is RuleStatus.APPLIED for r in repo.rules.list(owner=owner_of(stored.id))
        )

    listed = client.get(f"{ROOT}/vpn-services").json()["ietf-l2vpn-svc:vpn-services"]
    assert [v["vpn-id"] for v in listed["vpn-service"]] == [VPN_ID]
    tree = client.get(ROOT).json()["ietf-l2vpn-svc:l2vpn-svc"]
    assert [
        (s["site-id"], len(s["site-network-accesses"]["site-network-access"]))
        for s in tree["sites"]["site"]
    ] == [("site-a", 1), ("site-b", 1)]
    echoed = tree["sites"]["site"][0]["site-network-accesses"]["site-network-access"][0]
    assert echoed["bearer"] == {"bearer-reference": "h1:eth0"}
    assert echoed["connection"]["tagged-interface"]["dot1q-vlan-tagged"] == {"cvlan-id": 1234}

    assert client.delete(f"{ROOT}/vpn-services/vpn-service={VPN_ID}/").status_code == 204
    await eventually(lambda: inventory.list_services() == [])  # once its rules are gone
    with store.read() as repo:
        assert repo.rules.list(owner=owner_of(stored.id)) == []
    assert inventory.get_link("h1:eth0--s1:eth2").reserved_bps == 0
    assert errors(client.get(f"{ROOT}/vpn-services/vpn-service={VPN_ID}"), 404) == [
        (
            "invalid-value",
            f"{NODE}/vpn-services/vpn-service={VPN_ID}",
            f"no vpn-service {VPN_ID!r}",
        )
    ]


def test_standard_form_vpls_and_removing_an_access(
    client: TestClient, inventory: Inventory
) -> None:
    assert client.post(f"{ROOT}/vpn-services", json=vpn("lan", "vpls")).status_code == 201
    members = [access(f"m{n}", f"h{n}:eth0", "lan") for n in (1, 2, 3)]
    for member in members:
        del member["service"]  # l2vpn services take no bandwidth yet
    assert client.post(f"{ROOT}/sites", json=sites("dc", *members[:2])).status_code == 204
    assert post_access(client, "edge", sites("edge", members[2])).status_code == 204
    service = inventory.get_service("lan")
    assert service.type is ServiceType.L2VPN and len(service.endpoints) == 3
    gone = client.delete(f"{ROOT}/sites/site=dc/site-network-accesses/site-network-access=m2")
    assert gone.status_code == 204
    service = inventory.get_service("lan")
    assert [e.endpoint_id for e in service.endpoints] == [
        endpoint_id("h1", "eth0"),
        endpoint_id("h3", "eth0"),
    ]
    assert not any("/dc/m2" in key for key in service.attributes)
    again = client.delete(f"{ROOT}/sites/site=dc/site-network-accesses/site-network-access=m2")
    assert errors(again, 404)[0][2] == "site 'dc' has no access 'm2'"
    client.delete(f"{ROOT}/sites/site=dc/site-network-accesses/site-network-access=m1")
    assert inventory.get_service("lan").status_reason == WAITING_FOR_ENDPOINTS


def test_bad_payloads_name_the_node_and_store_nothing(
    client: TestClient, inventory: Inventory
) -> None:
    path = f"{ROOT}/vpn-services"
    bad_type = {"ietf-l2vpn-svc:vpn-service": [{"vpn-id": "x", "vpn-svc-type": "evpn"}]}
    ((tag, where, _),) = errors(client.post(path, json=bad_type), 400)
    assert (tag, where) == ("invalid-value", "/ietf-l2vpn-svc:vpn-service/0/vpn-svc-type")
    no_id = {"ietf-l2vpn-svc:vpn-service": [{"vpn-svc-type": "vpws"}]}
    assert errors(client.post(path, json=no_id), 400)[0][:2] == (
        "missing-element",
        "/ietf-l2vpn-svc:vpn-service/0/vpn-id",
    )
    assert errors(client.post(path, content=b"[1, 2"), 400)[0][0] == "malformed-message"
    assert inventory.list_services() == []

    assert client.post(path, json=vpn()).status_code == 201
    assert errors(client.post(path, json=vpn()), 409)[0][:2] == (
        "data-exists",
        "/ietf-l2vpn-svc:vpn-service/0/vpn-id",
    )
    unknown_vpn = accesses(access("a1", "h1:eth0", vpn_id="nope"))
    assert errors(post_access(client, "s", unknown_vpn), 400) == [
        (
            "invalid-value",
            "/ietf-l2vpn-svc:site-network-access/0/vpn-attachment/vpn-id",
            "no vpn-service 'nope'; create it first",
        )
    ]
    unknown_port = accesses(access("a1", "h1:eth9"))
    assert errors(post_access(client, "s", unknown_port), 400)[0][1] == (
        "/ietf-l2vpn-svc:site-network-access/0/bearer/bearer-reference"
    )
    untagged = access("a1", "h1:eth0")
    del untagged["connection"]["tagged-interface"]
    assert errors(post_access(client, "s", accesses(untagged)), 400)[0][1] == (
        "/ietf-l2vpn-svc:site-network-access/0/connection"
    )
    no_bearer = access("a1", "h1:eth0")
    del no_bearer["bearer"]
    assert errors(client.post(f"{ROOT}/sites", json=sites("s", no_bearer)), 400)[0][:2] == (
        "missing-element",
        "/ietf-l2vpn-svc:l2vpn-svc/sites/site/0/site-network-accesses/site-network-access/0/bearer",
    )
    assert inventory.get_service(VPN_ID).endpoints == []

    # infeasible once routed: more than the access links carry
    post_access(client, "a", accesses(access("a1", "h1:eth0", bandwidth=500_000_000)))
    too_much = post_access(client, "b", accesses(access("b1", "h3:eth0", bandwidth=500_000_000)))
    ((tag, where, message),) = errors(too_much, 400)
    assert where == "/ietf-l2vpn-svc:site-network-access/0/service/svc-input-bandwidth"
    assert "100000000 bit/s unreserved" in message
    assert len(inventory.get_service(VPN_ID).endpoints) == 1  # the second was not stored
    # a third end of a vpws; an access id taken
    assert client.post(path, json=vpn("v2")).status_code == 201
    pair = accesses(access("x1", "h2:eth0", "v2"), access("x2", "h4:eth0", "v2"))
    assert post_access(client, "x", pair).status_code == 204
    third = post_access(client, "x", accesses(access("x3", "h3:eth0", "v2")))
    assert errors(third, 400) == [
        (
            "invalid-value",
            f"{NODE}/vpn-services/vpn-service=v2/endpoints",
            "a p2p service joins exactly 2 ports, not 3",
        )
    ]
    again = post_access(client, "x", accesses(access("x1", "h3:eth0", "v2")))
    assert errors(again, 409)[0][:2] == (
        "data-exists",
        "/ietf-l2vpn-svc:site-network-access/0/network-access-id",
    )
    assert len(inventory.get_service("v2").endpoints) == 2
