"""A live netweave for browser tests and the UI benchmark: the app with its controller
on an emulated network (or a real lab), served by uvicorn on a free loopback port in a
background thread; and headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from netweave.api import create_app
from netweave.bus import InProcessBus
from netweave.cli.demo import on_emulated_driver
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.inventory import Inventory
from netweave.lab import Lab, LabOptions
from netweave.model import TopologyDescriptor
from netweave.store import Store

ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LiveServer:
    """`app` (over `store`) served by uvicorn on a free loopback port in a background
    thread; `network` is the emulated network its controller drives, if any."""

    def __init__(self, app: FastAPI, store: Store, network: EmulatedNetwork | None = None) -> None:
        self.store = store
        self._network = network
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, "127.0.0.1", self.port, log_level="warning", lifespan="on")
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="netweave-live", daemon=True)

    @property
    def network(self) -> EmulatedNetwork:
        assert self._network is not None, "not on the emulated network"
        return self._network

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve()

        asyncio.run(serve())

    def start(self, timeout_s: float = 20) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._thread.is_alive():
            if self._server.started:
                return
            time.sleep(0.05)
        raise TimeoutError(f"netweave did not start on {self.url} within {timeout_s} s")

    def call(self, work: Callable[[], T]) -> T:
        """Run `work` on the server's event loop (the emulated network lives there)."""
        assert self._loop is not None, "not started"

        async def run() -> T:
            return work()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self.store.close()


def _imported(descriptor: TopologyDescriptor, db: Path) -> Store:
    store = Store.open(f"sqlite:///{db}")
    Inventory(store, InProcessBus()).import_topology(descriptor)
    return store


@contextmanager
def _running(server: LiveServer) -> Iterator[LiveServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def live_server(descriptor: TopologyDescriptor, controller: bool = True) -> Iterator[LiveServer]:
    """`descriptor` on the emulated driver, with the controller (discovery, services)
    unless `controller` is false (then only the store changes what the API shows)."""
    descriptor = on_emulated_driver(descriptor)
    network = EmulatedNetwork.from_descriptor(descriptor)
    with tempfile.TemporaryDirectory(prefix="netweave-e2e-") as scratch:
        store = _imported(descriptor, Path(scratch) / "netweave.db")
        plugins = {"emulated": EmulatedPlugin(network)}
        running = Controller(store, None, plugins) if controller else None
        with _running(LiveServer(create_app(store, InProcessBus(), running), store, network)) as s:
            yield s


@contextmanager
def lab_server(descriptor: TopologyDescriptor) -> Iterator[tuple[LiveServer, Lab]]:
    """`descriptor` built as a real lab (Open vSwitch, namespaces; needs root) and driven
    over OpenFlow by the controller, services only; the lab is taken down afterwards."""
    with tempfile.TemporaryDirectory(prefix="netweave-e2e-lab-") as scratch:
        store = _imported(descriptor, Path(scratch) / "netweave.db")
        openflow_port = free_port()
        settings = ControllerSettings(openflow_port=openflow_port, discovery_interval_s=0.2)
        app = create_app(store, InProcessBus(), Controller(store, settings))
        options = LabOptions(controller=f"tcp:127.0.0.1:{openflow_port}")
        lab = Lab(descriptor, options, Path(scratch) / "lab")
        with _running(LiveServer(app, store)) as server:
            try:
                lab.up()
                yield server, lab
            finally:
                lab.down()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium, closed afterwards (Playwright gives it a fresh profile)."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> None:
    """Save what the page shows as artifacts/e2e/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")
