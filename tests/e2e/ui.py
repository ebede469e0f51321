"""What the browser tests do on a page and ask of the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from harness import LiveServer
from playwright.sync_api import Page

T = TypeVar("T")


def until(read: Callable[[], T], timeout_s: float = 10) -> T:
    """The first truthy result of `read`, polled for up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (result := read()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert result, f"nothing after {timeout_s} s"
    return result


def api(server: LiveServer, path: str) -> Any:
    return httpx.get(f"{server.url}/api/v1{path}").raise_for_status().json()


def graph(page: Page, expression: str) -> Any:
    return page.evaluate(f"(() => {{ const cy = netweave.graph.cy; return {expression}; }})()")


def submit_service(page: Page, fields: dict[str, str]) -> None:
    page.goto("/#/services/new")
    for name, value in fields.items():
        page.locator(f'[name="{name}"]').fill(value)
    page.get_by_role("button", name="Create").click()


GOOD = {
    "name": "web-h1-h2",
    "endpoints.0.device": "h1",
    "endpoints.0.endpoint": "eth0",
    "endpoints.1.device": "h2",
    "endpoints.1.endpoint": "eth0",
    "constraints.bandwidth_bps": "1000000",
}


def drawn_path(page: Page, role: str) -> list[str]:
    return sorted(graph(page, f"cy.edges('.{role}').map(e => e.id())"))


def primary_links(server: LiveServer, service: str) -> list[str]:
    connections = api(server, f"/services/{service}/connections")
    [primary] = [c for c in connections if c["role"] == "primary"]
    return sorted(primary["link_ids"])
