from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netweave.api import create_app, inventory_of
from netweave.bus import InProcessBus
from netweave.model import Event
from netweave.model.ids import device_id, endpoint_id, link_id, service_id
from netweave.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
YAML = {"content-type": "application/yaml"}
V1 = "/api/v1"


@pytest.fixture
def client(store: Store, bus: InProcessBus) -> Iterator[TestClient]:
    with TestClient(create_app(store, bus)) as test_client:
        yield test_client


def detail(response: Any, status: int) -> list[tuple[list[Any], str]]:
    """The (loc, msg) pairs of an error response, after checking its status."""
    assert response.status_code == status, response.text
    return [(item["loc"], item["msg"]) for item in response.json()["detail"]]


def post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(V1 + path, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def two_switches(client: TestClient) -> None:
    for name in ("s1", "s2"):
        post(client, "/devices", {"name": name})
        for port in ("eth1", "eth2"):
            post(client, f"/devices/{name}/endpoints", {"name": port})


def ends(a: str, b: str) -> dict[str, Any]:
    (dev_a, port_a), (dev_b, port_b) = a.split(":"), b.split(":")
    return {"a": {"device": dev_a, "endpoint": port_a}, "b": {"device": dev_b, "endpoint": port_b}}


def test_health_openapi_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {f"{V1}/devices/{{id_or_name}}", f"{V1}/topology", f"{V1}/topology/export"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_openapi_references_resolve(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    refs: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            refs.update(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    schemas = document["components"]["schemas"]
    assert "#/components/schemas/TopologyDescriptor" in refs
    assert [ref for ref in refs if ref.rsplit("/", 1)[-1] not in schemas] == []


def test_device_routes(client: TestClient) -> None:
    created = post(client, "/devices", {"name": "s1", "drivers": ["emulated"]})
    assert created["id"] == device_id("s1")
    assert [d["name"] for d in client.get(f"{V1}/devices").json()] == ["s1"]
    assert (
        client.get(f"{V1}/devices/s1").json() == client.get(f"{V1}/devices/{created['id']}").json()
    )
    patched = client.patch(f"{V1}/devices/s1", json={"address": "tcp:1.2.3.4:6653"}).json()
    assert (patched["drivers"], patched["address"]) == (["emulated"], "tcp:1.2.3.4:6653")
    replaced = client.put(f"{V1}/devices/s1", json={"type": "router"}).json()
    assert (replaced["type"], replaced["drivers"], replaced["address"]) == ("router", [], None)
    assert client.delete(f"{V1}/devices/s1").status_code == 204
    assert detail(client.get(f"{V1}/devices/s1"), 404) == [(["device"], "no device named 's1'")]


def test_device_input_errors(client: TestClient) -> None:
    post(client, "/devices", {"name": "s1"})
    assert detail(client.post(f"{V1}/devices", json={"name": "s1"}), 409) == [
        (["name"], "device 's1' already exists")
    ]
    [(loc, _)] = detail(client.post(f"{V1}/devices", json={"name": "bad name!"}), 422)
    assert loc == ["body", "name"]
    [(loc, _)] = detail(client.patch(f"{V1}/devices/s1", json={"name": "s2"}), 422)
    assert loc == ["body", "name"]  # renaming is not a change a device accepts
    [(loc, _)] = detail(client.patch(f"{V1}/devices/s1", json={"type": "toaster"}), 422)
    assert loc == ["body", "type"]


def test_endpoint_routes(client: TestClient) -> None:
    post(client, "/devices", {"name": "h1", "type": "host"})
    port = post(client, "/devices/h1/endpoints", {"name": "eth0", "ip": "10.0.0.1/24"})
    assert port["id"] == endpoint_id("h1", "eth0")
    assert port["number"] is None
    assert [p["name"] for p in client.get(f"{V1}/devices/h1/endpoints").json()] == ["eth0"]
    assert [p["id"] for p in client.get(f"{V1}/endpoints").json()] == [port["id"]]
    url = f"{V1}/endpoints/{port['id']}"
    assert client.get(url).json() == port
    assert client.patch(url, json={"number": 1}).json()["ip"] == "10.0.0.1/24"
    assert client.put(url, json={"number": 2}).json()["ip"] is None
    [(loc, msg)] = detail(client.patch(url, json={"ip": "10.0.0.1"}), 422)
    assert loc == ["body", "ip"]
    assert "prefix length" in msg
    assert detail(client.post(f"{V1}/devices/h1/endpoints", json={"name": "eth0"}), 409)
    assert client.delete(url).status_code == 204
    assert detail(client.get(url), 404) == [(["endpoint"], f"no endpoint with id {port['id']!r}")]
    assert detail(client.get(f"{V1}/devices/h9/endpoints"), 404)


def test_link_routes(client: TestClient) -> None:
    two_switches(client)
    created = post(client, "/links", {"name": "l1", **ends("s1:eth1", "s2:eth1")})
    assert created["id"] == link_id("l1")
    assert [x["name"] for x in client.get(f"{V1}/links").json()] == ["l1"]
    assert client.get(f"{V1}/links/{link_id('l1')}").json() == created
    assert client.patch(f"{V1}/links/l1", json={"capacity_bps": 100}).json()["capacity_bps"] == 100
    replaced = client.put(f"{V1}/links/l1", json={"cost": 2}).json()
    assert (replaced["capacity_bps"], replaced["cost"]) == (0, 2)
    assert client.delete(f"{V1}/links/l1").status_code == 204
    assert detail(client.get(f"{V1}/links/l1"), 404) == [(["link"], "no link named 'l1'")]


def test_link_input_errors_name_the_field(client: TestClient) -> None:
    two_switches(client)
    post(client, "/links", {"name": "l1", **ends("s1:eth1", "s2:eth1")})
    cases = [
        (ends("s9:eth1", "s2:eth2"), 422, ["a", "device"], "no device named 's9'"),
        (ends("s1:eth2", "s2:eth7"), 422, ["b", "endpoint"], "device 's2' has no port 'eth7'"),
        (
            ends("s1:eth2", "s2:eth1"),
            409,
            ["b", "endpoint"],
            "port 'eth1' is already used by link 'l1'",
        ),
        ({"name": "l1", **ends("s1:eth2", "s2:eth2")}, 409, ["name"], "link 'l1' already exists"),
    ]
    for body, status, loc, msg in cases:
        assert detail(client.post(f"{V1}/links", json=body), status) == [(loc, msg)]
    negative = {"capacity_bps": -1, **ends("s1:eth2", "s2:eth2")}
    [(loc, _)] = detail(client.post(f"{V1}/links", json=negative), 422)
    assert loc == ["body", "capacity_bps"]
    assert [(loc, msg[:16]) for loc, msg in detail(client.delete(f"{V1}/devices/s1"), 409)] == [
        (["device"], "'s1' is still us")
    ]
    assert detail(client.delete(f"{V1}/links/l9"), 404)


def test_service_routes(client: TestClient) -> None:
    two_switches(client)
    post(client, "/links", {"capacity_bps": 10, **ends("s1:eth2", "s2:eth2")})
    body = {
        "name": "svc",
        "endpoints": [{"device": "s1", "endpoint": "eth1"}, {"device": "s2", "endpoint": "eth1"}],
    }
    created = post(client, "/services", body)
    assert (created["id"], created["status"]) == (service_id("svc"), "planned")
    assert [s["name"] for s in client.get(f"{V1}/services").json()] == ["svc"]
    assert client.get(f"{V1}/services/svc").json() == created
    patched = client.patch(f"{V1}/services/svc", json={"constraints": {"bandwidth_bps": 5}})
    assert patched.json()["constraints"]["bandwidth_bps"] == 5
    assert client.put(f"{V1}/services/svc", json={}).json()["constraints"]["bandwidth_bps"] is None
    bad = {
        "name": "svc2",
        "endpoints": [{"device": "s1", "endpoint": "eth2"}, {"device": "s3", "endpoint": "eth1"}],
    }
    assert detail(client.post(f"{V1}/services", json=bad), 422) == [
        (["endpoints", 1, "device"], "no device named 's3'")
    ]
    too_big = body | {"name": "svc3", "constraints": {"bandwidth_bps": 50}}
    [(loc, msg)] = detail(client.post(f"{V1}/services", json=too_big), 409)
    assert (loc, msg) == (["endpoints", 0], "the port is used by service 'svc'")
    assert client.delete(f"{V1}/services/svc").status_code == 204
    [(loc, msg)] = detail(client.post(f"{V1}/services", json=too_big), 422)
    assert loc == ["constraints", "bandwidth_bps"] and "best available 10 bit/s" in msg
    assert detail(client.get(f"{V1}/services/svc"), 404)


def test_topology_import_yaml_and_json_and_export(client: TestClient) -> None:
    text = (FIXTURES / "triangle.yaml").read_text()
    imported = client.post(f"{V1}/topology", content=text, headers=YAML)
    assert imported.status_code == 200, imported.text
    assert imported.json()["links"] == {"created": 5, "updated": 0, "unchanged": 0}
    topology = client.get(f"{V1}/topology").json()
    assert (len(topology["devices"]), len(topology["endpoints"]), len(topology["links"])) == (
        5,
        10,
        5,
    )
    exported = client.get(f"{V1}/topology/export").json()
    again = client.post(f"{V1}/topology", json=exported).json()
    assert again["endpoints"] == {"created": 0, "updated": 0, "unchanged": 10}
    as_yaml = client.get(f"{V1}/topology/export", params={"format": "yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert client.post(f"{V1}/topology", content=as_yaml.text, headers=YAML).json() == again


def test_topology_import_is_all_or_nothing(client: TestClient) -> None:
    text = (FIXTURES / "bad_last_link.yaml").read_text()
    response = client.post(f"{V1}/topology", content=text, headers=YAML)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["links", 1, "b", "device"],
            "msg": "no device named 's9'",
            "type": "invalid",
            "line": 7,
        }
    ]
    assert client.get(f"{V1}/topology").json() == {"devices": [], "endpoints": [], "links": []}


def test_topology_import_bad_bodies(client: TestClient) -> None:
    [(loc, msg)] = detail(client.post(f"{V1}/topology", content="a: [\n", headers=YAML), 422)
    assert loc == []
    assert msg.startswith("invalid YAML")
    problems = detail(client.post(f"{V1}/topology", json={"devices": [{"nom": "x"}]}), 422)
    assert [loc for loc, _ in problems] == [["devices", 0, "name"], ["devices", 0, "nom"]]
    text_plain = client.post(f"{V1}/topology", content="x", headers={"content-type": "text/plain"})
    assert text_plain.status_code == 415
    not_utf8 = client.post(f"{V1}/topology", content=b"\xff\xfe", headers=YAML)
    assert not_utf8.status_code == 400


def test_writes_publish_events(client: TestClient, bus: InProcessBus) -> None:
    seen: list[Event] = []
    bus.subscribe("device", seen.append)
    post(client, "/devices", {"name": "s1"})
    client.delete(f"{V1}/devices/s1")
    assert [e.type.value for e in seen] == ["device.created", "device.deleted"]


def test_inventory_of_refuses_a_foreign_app() -> None:
    from fastapi import FastAPI

    with pytest.raises(TypeError):
        inventory_of(FastAPI())
