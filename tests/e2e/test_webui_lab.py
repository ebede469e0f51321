"""The web UI on a real lab: Open vSwitch switches driven over OpenFlow, hosts in
network namespaces (needs root). A service made through the form carries pings; a port
taken down on a switch shows on the graph and moves the drawn path, without reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import LiveServer, lab_server, screenshot
from playwright.sync_api import Page, expect
from ui import GOOD, api, drawn_path, primary_links, submit_service

from netweave.cli.demo import real_network_unavailable
from netweave.inventory import load_descriptor
from netweave.lab import Lab
from netweave.model import TopologyDescriptor

WHY_NOT = real_network_unavailable()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(WHY_NOT is not None, reason=f"no real lab here: {WHY_NOT}"),
]
RING = Path(__file__).parents[2] / "examples" / "ring.yaml"


@pytest.fixture
def ring() -> TopologyDescriptor:
    return load_descriptor(RING.read_text(), str(RING))[0]


@pytest.fixture
def running(ring: TopologyDescriptor) -> Iterator[tuple[LiveServer, Lab]]:
    with lab_server(ring) as started:
        yield started


@pytest.fixture
def server(running: tuple[LiveServer, Lab]) -> LiveServer:
    return running[0]


def pings(lab: Lab, ring: TopologyDescriptor, source: str, target: str) -> bool:
    address = next(d.ip for d in ring.devices if d.name == target)
    assert address is not None
    argv = ["ping", "-c", "3", "-i", "0.2", "-W", "1", address.split("/")[0]]
    return lab.exec(source, argv).returncode == 0


def test_service_on_real_switches_follows_a_port_down(
    page: Page, running: tuple[LiveServer, Lab], ring: TopologyDescriptor
) -> None:
    server, lab = running
    submit_service(page, GOOD)
    expect(page.locator(".fields .badge").first).to_have_text("active")
    path = primary_links(server, GOOD["name"])
    page.wait_for_function(f"netweave.graph.cy.edges('.primary').length === {len(path)}")
    assert drawn_path(page, "primary") == path
    assert pings(lab, ring, "h1", "h2")

    page.evaluate("window.notReloaded = true")
    names = {link["id"]: link["name"] for link in api(server, "/links")}
    transit = next(i for i in path if not names[i].startswith("h"))
    planned = next(link for link in lab.plan.links if link.name == names[transit])
    lab.ofctl(planned.a.device, "mod-port", str(planned.a.ofport), "down")
    page.wait_for_function(
        "id => netweave.graph.cy.getElementById(id).data('status') === 'down'", arg=transit
    )
    page.wait_for_function(
        "id => !netweave.graph.cy.getElementById(id).hasClass('primary')", arg=transit
    )
    rerouted = primary_links(server, GOOD["name"])
    assert transit not in rerouted and drawn_path(page, "primary") == rerouted
    assert page.evaluate("window.notReloaded") is True
    assert pings(lab, ring, "h1", "h2")
    screenshot(page, "lab-rerouted")
