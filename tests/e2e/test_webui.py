"""The web UI in headless Chromium against a live netweave on the emulated network."""

from __future__ import annotations

import httpx
from harness import LiveServer, screenshot
from playwright.sync_api import Page, expect
from ui import GOOD, api, drawn_path, graph, primary_links, submit_service, until

from netweave.model import OperStatus

DOWN_RED = "rgb(198,40,40)"
FULL_ORANGE = "rgb(230,81,0)"


def test_graph_shows_the_apis_topology(page: Page, server: LiveServer) -> None:
    topology = api(server, "/topology")
    assert graph(page, "[cy.nodes().length, cy.edges().length]") == [
        len(topology["devices"]),
        len(topology["links"]),
    ]
    hosts = {d["id"] for d in topology["devices"] if d["type"] == "host"}
    assert set(graph(page, "cy.nodes('[type = \"host\"]').map(n => n.id())")) == hosts
    expect(page.locator("#live")).to_have_text("live")
    screenshot(page, "topology")


def test_link_down_in_the_network_shows_without_reload(page: Page, server: LiveServer) -> None:
    link = next(link for link in api(server, "/links") if link["name"] == "s1:eth1--s2:eth1")
    page.evaluate("window.notReloaded = true")
    server.call(lambda: server.network.set_link_status(link["name"], OperStatus.DOWN))
    page.wait_for_function(
        "id => netweave.graph.cy.getElementById(id).data('status') === 'down'", arg=link["id"]
    )
    assert graph(page, f"cy.getElementById('{link['id']}').style('line-color')") == DOWN_RED
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "link-down")
    server.call(lambda: server.network.set_link_status(link["name"], OperStatus.UP))
    page.wait_for_function(
        "id => netweave.graph.cy.getElementById(id).data('status') === 'up'", arg=link["id"]
    )


def test_bad_form_input_shows_the_apis_error_next_to_the_field(
    page: Page, server: LiveServer
) -> None:
    bad = {**GOOD, "endpoints.1.device": "s99", "constraints.bandwidth_bps": "lots"}
    body = {
        "name": bad["name"],
        "endpoints": [{"device": "h1", "endpoint": "eth0"}, {"device": "s99", "endpoint": "eth0"}],
        "constraints": {"bandwidth_bps": "lots"},
    }
    refused = httpx.post(f"{server.url}/api/v1/services", json=body)
    assert refused.status_code == 422
    [message] = [p["msg"] for p in refused.json()["detail"]]  # pydantic checks types first
    submit_service(page, bad)
    expect(page.locator('[data-for="constraints.bandwidth_bps"]')).to_have_text(message)
    screenshot(page, "form-error-bandwidth")
    page.locator('[name="constraints.bandwidth_bps"]').fill("1000000")
    page.get_by_role("button", name="Create").click()
    device_error = page.locator('[data-for="endpoints.1.device"]')
    expect(device_error).to_contain_text("s99")
    expect(page.locator('[data-for="constraints.bandwidth_bps"]')).to_be_empty()
    screenshot(page, "form-error-device")
    page.locator('[name="endpoints.1.device"]').fill("h2")  # valid, but no path has room:
    page.locator('[name="constraints.bandwidth_bps"]').fill(str(10**15))
    page.get_by_role("button", name="Create").click()
    expect(page.locator('[data-for="constraints.bandwidth_bps"]')).not_to_be_empty()
    expect(device_error).to_be_empty()
    screenshot(page, "form-error-infeasible")
    assert api(server, "/services") == []


def test_service_from_the_form_is_drawn_and_follows_a_link_down(
    page: Page, server: LiveServer
) -> None:
    submit_service(page, GOOD)
    expect(page).to_have_url(f"{server.url}/#/services/{GOOD['name']}")
    expect(page.locator(".fields .badge").first).to_have_text("active")
    path = primary_links(server, GOOD["name"])
    page.wait_for_function(f"netweave.graph.cy.edges('.primary').length === {len(path)}")
    assert drawn_path(page, "primary") == path
    screenshot(page, "service-active")

    page.evaluate("window.notReloaded = true")
    links = {link["id"]: link["name"] for link in api(server, "/links")}
    transit = next(links[i] for i in path if not links[i].startswith("h"))
    server.call(lambda: server.network.set_link_status(transit, OperStatus.DOWN))
    page.wait_for_function(
        "old => netweave.graph.cy.edges('.primary').map(e => e.id()).sort().join() !== old",
        arg=",".join(path),
    )
    rerouted = primary_links(server, GOOD["name"])
    assert rerouted != path and drawn_path(page, "primary") == rerouted
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "service-rerouted")

    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("this service was deleted")).to_be_visible()
    assert api(server, "/services") == [] and drawn_path(page, "primary") == []


def test_policies_page_shows_a_new_policy_without_reload(page: Page, server: LiveServer) -> None:
    page.goto("/#/policies")
    expect(page.get_by_text("no policies")).to_be_visible()
    policy = {
        "name": "notify-link-down",
        "trigger": {"on": "event", "event": "link.status", "where": {"status": "down"}},
        "actions": [{"type": "raise_event", "name": "LINK_DOWN"}],
    }
    httpx.post(f"{server.url}/api/v1/policies", json=policy).raise_for_status()
    row = page.get_by_role("row").filter(has_text="notify-link-down")
    expect(row).to_contain_text("event link.status")
    expect(row).to_contain_text("raise_event")
    page.goto("/#/alarms")
    expect(page.get_by_text("no active alarm")).to_be_visible()
    screenshot(page, "alarms")


def test_links_show_their_utilisation(page: Page, server: LiveServer) -> None:
    link = next(link for link in api(server, "/links") if link["name"] == "s1:eth1--s2:eth1")
    sample = f"link,link={link['name']} utilisation=85"
    httpx.post(f"{server.url}/api/v1/write", content=sample).raise_for_status()
    page.goto("/")  # read at load, then once per sampling period
    page.wait_for_function(
        "id => netweave.graph.cy.getElementById(id).data('util') === 85", arg=link["id"]
    )
    assert graph(page, f"cy.getElementById('{link['id']}').style('line-color')") == FULL_ORANGE
    page.goto(f"/#/links/{link['id']}")
    expect(page.get_by_text("now 85.0 %")).to_be_visible()
    screenshot(page, "utilisation")


def test_devices_and_links_added_through_the_api_appear_without_reload(
    page: Page, server: LiveServer
) -> None:
    page.evaluate("window.notReloaded = true")
    before = graph(page, "[cy.nodes().length, cy.edges().length]")
    for name in ("x1", "x2"):
        httpx.post(f"{server.url}/api/v1/devices", json={"name": name}).raise_for_status()
        port = {"name": "eth1"}
        httpx.post(f"{server.url}/api/v1/devices/{name}/endpoints", json=port).raise_for_status()
    ends = {"a": {"device": "x1", "endpoint": "eth1"}, "b": {"device": "x2", "endpoint": "eth1"}}
    link = httpx.post(f"{server.url}/api/v1/links", json=ends).raise_for_status().json()
    page.wait_for_function(f"netweave.graph.cy.edges().length === {before[1] + 1}")
    assert graph(page, "[cy.nodes().length, cy.edges().length]") == [before[0] + 2, before[1] + 1]
    httpx.delete(f"{server.url}/api/v1/links/{link['id']}").raise_for_status()
    httpx.delete(f"{server.url}/api/v1/devices/x2").raise_for_status()
    page.wait_for_function(f"netweave.graph.cy.nodes().length === {before[0] + 1}")
    assert graph(page, "cy.edges().length") == before[1]
    assert page.evaluate("window.notReloaded") is True


def test_clicking_a_switch_shows_its_ports_and_rules(page: Page, server: LiveServer) -> None:
    s1 = next(d for d in api(server, "/devices") if d["name"] == "s1")
    rules = until(lambda: api(server, "/devices/s1/rules"))  # the discovery rule, once
    spot = graph(page, f"cy.getElementById('{s1['id']}').renderedPosition()")
    box = page.locator("#graph").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])
    expect(page).to_have_url(f"{server.url}/#/devices/s1")
    expect(page.get_by_role("heading", name="switch s1")).to_be_visible()
    ports = api(server, f"/devices/{s1['id']}/endpoints")
    expect(page.get_by_role("heading", name=f"Ports ({len(ports)})")).to_be_visible()
    for rule in rules:
        expect(page.get_by_text(rule["key"])).to_be_visible()
    screenshot(page, "device")
