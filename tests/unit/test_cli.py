from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from netweave.api import create_app, inventory_of
from netweave.bus import InProcessBus
from netweave.cli import main as cli
from netweave.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
TRIANGLE = FIXTURES / "triangle.yaml"


@pytest.fixture
def client(store: Store, bus: InProcessBus) -> Iterator[TestClient]:
    with TestClient(create_app(store, bus)) as test_client:
        yield test_client


@pytest.fixture
def run(client: TestClient) -> Any:
    runner = CliRunner()

    def invoke(*args: str, expect: int = 0) -> Result:
        result = runner.invoke(cli.app, list(args), obj=client, env={"COLUMNS": "200"})
        assert result.exit_code == expect, result.output
        return result

    return invoke


def counts(output: str, kind: str) -> list[int]:
    """The created/updated/unchanged numbers of `kind` in an import result table."""
    row = next(line for line in output.splitlines() if f" {kind} " in line)
    return [int(cell) for cell in re.findall(r"\b\d+\b", row)]


def test_topology_load_show_and_export(run: Any, tmp_path: Path) -> None:
    loaded = run("topology", "load", str(TRIANGLE)).output
    assert [counts(loaded, kind) for kind in ("devices", "endpoints", "links")] == [
        [5, 0, 0],
        [10, 0, 0],
        [5, 0, 0],
    ]
    shown = run("topology", "show").output
    assert "s3-s1" in shown and "s3:eth2" in shown and "role=edge" in shown
    assert run("topology", "export").output.startswith("devices:\n- name: h1\n")
    target = tmp_path / "out.json"
    assert f"wrote {target}" in run("topology", "export", str(target)).output
    assert counts(run("topology", "load", str(target)).output, "endpoints") == [0, 0, 10]


def test_topology_load_error_names_file_line_and_field(run: Any) -> None:
    bad = FIXTURES / "bad_last_link.yaml"
    result = run("topology", "load", str(bad), expect=1)
    assert f"error: {bad}: links[1].b.device (line 7): no device named 's9'" in result.output
    assert "s1" not in run("device", "list").output


def test_device_commands(run: Any) -> None:
    created = run(
        "device", "create", "s1", "--driver", "emulated", "--attr", "role=core", "--type", "router"
    ).output
    assert "s1" in created and "router" in created and "role=core" in created
    assert "s1" in run("device", "list").output
    assert "emulated" in run("device", "show", "s1").output
    assert "already exists" in run("device", "create", "s1", expect=1).output
    assert "KEY=VALUE" in run("device", "create", "s2", "--attr", "oops", expect=2).output
    assert "deleted device s1" in run("device", "delete", "s1").output
    assert "error: device: no device named 's1'" in run("device", "show", "s1", expect=1).output


def test_link_and_endpoint_commands(run: Any) -> None:
    run("topology", "load", str(TRIANGLE))
    assert "eth3" in run("endpoint", "list", "--device", "s1").output
    assert "h2" in run("endpoint", "list").output
    assert "10.0.0.1/24" in run("endpoint", "show", "h1:eth0").output
    assert "no port 'eth9'" in run("endpoint", "show", "h1:eth9", expect=2).output
    run("device", "create", "s4")
    run("device", "create", "s5")
    assert (
        "a.device: no device named 's9'" in run("link", "create", "s9:p", "s4:p", expect=1).output
    )
    assert (
        "b.endpoint: device 's5' has no port 'p'"
        in run("link", "create", "s1:eth1", "s5:p", expect=1).output
    )
    assert "DEVICE:PORT" in run("link", "create", "s4", "s5:p", expect=2).output
    shown = run("link", "show", "s3-s1").output
    assert "s3:eth2" in shown and "s1:eth2" in shown
    assert "s1:eth1--s2:eth1" in run("link", "list").output
    assert "deleted link s3-s1" in run("link", "delete", "s3-s1").output
    created = run("link", "create", "s3:eth2", "s1:eth2", "--name", "again", "--capacity-bps", "5")
    assert "again" in created.output


def test_service_commands(run: Any) -> None:
    run("topology", "load", str(TRIANGLE))
    refused = run(
        "service", "create", "svc", "h1:eth0", "h2:eth0", "--bandwidth-bps", "100", expect=1
    )
    assert "constraints.bandwidth_bps: access link 'h1:eth0--s1:eth3' has 0 bit/s" in refused.output
    created = run("service", "create", "svc", "h1:eth0", "h2:eth0", "--max-latency-ms", "100")
    assert "h1:eth0, h2:eth0" in created.output and "planned" in created.output
    assert "svc" in run("service", "list").output
    assert "max_latency_ms=100" in run("service", "show", "svc").output
    error = run("service", "create", "x", "h1:eth0", "h2:eth9", expect=1).output
    assert "endpoints[1].endpoint: device 'h2' has no port 'eth9'" in error
    assert "deleted service svc" in run("service", "delete", "svc").output
    protected = run("service", "create", "p", "h1:eth0", "h2:eth0", "--protection", "1+1")
    assert "planned" in protected.output
    assert "protection=1+1" in run("service", "show", "p").output


def test_unreachable_server_prints_a_hint() -> None:
    dead = httpx.Client(base_url="http://127.0.0.1:9")
    result = CliRunner().invoke(cli.app, ["device", "list"], obj=dead)
    assert result.exit_code == 1
    assert "is 'netweave serve' running?" in result.output


def test_url_option_builds_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(
        cli.app, ["device", "list"], env={"NETWEAVE_URL": "http://127.0.0.1:9"}
    )
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:9" in result.output


def test_serve_preloads_a_descriptor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served: list[FastAPI] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **_: served.append(app))
    db = f"sqlite:///{tmp_path / 'nw.db'}"
    result = CliRunner().invoke(cli.app, ["serve", "--db", db, "--topology", str(TRIANGLE)])
    assert result.exit_code == 0, result.output
    [web] = served
    assert len(inventory_of(web).list_links()) == 5


def test_serve_refuses_a_bad_descriptor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **_: pytest.fail("must not serve"))
    bad = FIXTURES / "bad_last_link.yaml"
    db = f"sqlite:///{tmp_path / 'nw.db'}"
    result = CliRunner().invoke(cli.app, ["serve", "--db", db, "--topology", str(bad)])
    assert result.exit_code == 1
    assert "links[1].b.device (line 7)" in result.output


def test_sub_apps_are_registered() -> None:
    result = CliRunner().invoke(cli.app, ["lab", "--help"])
    assert result.exit_code == 0, result.output
    assert "up" in result.output
