"""Browser tests of the web UI: a live netweave on the emulated network, Debian's
headless Chromium, screenshots under artifacts/e2e/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import CHROMIUM, LiveServer, chromium, live_server
from playwright.sync_api import Browser, Page, expect

from netweave.inventory import load_descriptor
from netweave.model import TopologyDescriptor
from netweave.web import BUILD_HINT, ui_built

ROOT = Path(__file__).parents[2]
expect.set_options(timeout=15_000)  # CI machines are shared: give the controller time


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    why = None
    if not CHROMIUM.exists():
        why = f"no {CHROMIUM} (scripts/setup.sh installs Debian's chromium as root)"
    elif not ui_built():
        why = BUILD_HINT
    for item in items:
        if why is not None and Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def mesh() -> TopologyDescriptor:
    path = ROOT / "examples" / "mesh.yaml"
    return load_descriptor(path.read_text(), str(path))[0]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as started:
        yield started


@pytest.fixture
def server(mesh: TopologyDescriptor) -> Iterator[LiveServer]:
    with live_server(mesh) as started:
        yield started


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """The UI, loaded and drawn, with page errors failing the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 800}, base_url=server.url)
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto("/")
    opened.wait_for_function("window.netweave?.graph.firstRenderMs != null")
    try:
        yield opened
    finally:
        context.close()
    assert errors == []
