"""The UI's read-only views (device rules, service connections) and its static mount."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from netweave.api import create_app
from netweave.bus import InProcessBus
from netweave.model import ConfigRule, Connection, Device, Service
from netweave.model.ids import device_id, service_id
from netweave.store import Store
from netweave.web.ui import BUILD_HINT, mount_ui

V1 = "/api/v1"


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with store.transaction() as tx:
        tx.devices.add(Device(id=device_id("s1"), name="s1"))
        tx.rules.add_many(
            [
                ConfigRule(id=f"r{i}", owner="test", device_id=device_id("s1"), key=f"/k{i}")
                for i in range(3)
            ]
        )
    with TestClient(create_app(store, InProcessBus())) as test_client:
        yield test_client


def test_device_rules_by_name_or_id_paged(client: TestClient) -> None:
    by_name = client.get(f"{V1}/devices/s1/rules").json()
    assert [r["key"] for r in by_name] == ["/k0", "/k1", "/k2"]
    assert client.get(f"{V1}/devices/{device_id('s1')}/rules").json() == by_name
    page = client.get(f"{V1}/devices/s1/rules", params={"limit": 1, "offset": 1}).json()
    assert [r["key"] for r in page] == ["/k1"]


def test_device_rules_errors_name_the_field(client: TestClient) -> None:
    missing = client.get(f"{V1}/devices/s9/rules")
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["loc"] == ["device"]
    too_many = client.get(f"{V1}/devices/s1/rules", params={"limit": 0})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]


def test_service_connections(client: TestClient, store: Store) -> None:
    sid = service_id("svc")
    ends = [{"device_id": device_id("s1"), "endpoint_id": f"e{i}"} for i in range(2)]
    with store.transaction() as tx:
        tx.services.add(Service.model_validate({"id": sid, "name": "svc", "endpoints": ends}))
        tx.connections.add(Connection(id="c1", name="svc-primary", service_id=sid))
    [connection] = client.get(f"{V1}/services/svc/connections").json()
    assert (connection["id"], connection["role"]) == ("c1", "primary")
    assert client.get(f"{V1}/services/nope/connections").status_code == 404


def ui_app(directory: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/api/thing")
    def thing() -> dict[str, str]:
        return {"ok": "yes"}

    mount_ui(app, directory)
    return app


def test_built_ui_is_served_at_root_after_the_routes(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>netweave</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    client = TestClient(ui_app(tmp_path))
    assert "<title>netweave</title>" in client.get("/").text
    assert client.get("/assets/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/api/thing").json() == {"ok": "yes"}
    assert client.get("/api/other").status_code == 404


def test_missing_ui_says_how_to_build_it(tmp_path: Path) -> None:
    response = TestClient(ui_app(tmp_path)).get("/")
    assert response.status_code == 503
    assert BUILD_HINT in response.text
