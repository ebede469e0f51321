"""`netweave demo`: the controller, its REST API and a demo network, in one command.

As root, with Open vSwitch installed, the network is real: the descriptor is built with
`netweave.lab` (userspace OVS bridges, hosts in namespaces) and driven over OpenFlow
with shortest-path forwarding on, so its hosts can ping each other at once. Otherwise
the same topology runs on the emulated driver, and the command says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel

from netweave.api import create_app
from netweave.assurance import EmbeddedTSDB
from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.drivers import DriverPlugin
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.gcpause import freeze_heap
from netweave.inventory import Inventory, InventoryError, load_descriptor
from netweave.lab import Lab, LabError, LabOptions, check_prerequisites
from netweave.model import DeviceType, TopologyDescriptor
from netweave.store import Store

DEFAULT_TOPOLOGY = Path("examples/leaf-spine.yaml")
out = Console()


def real_network_unavailable() -> str | None:
    """Why the demo cannot build a real network here, or None if it can."""
    if os.geteuid() != 0:
        return "not running as root"
    try:
        check_prerequisites()
    except LabError as exc:
        return str(exc)
    return None


def on_emulated_driver(descriptor: TopologyDescriptor) -> TopologyDescriptor:
    """The descriptor with every switch driven by the emulated driver."""
    devices = [
        d if d.type == DeviceType.HOST else d.model_copy(update={"drivers": ["emulated"]})
        for d in descriptor.devices
    ]
    return descriptor.model_copy(update={"devices": devices})


class _Server(uvicorn.Server):
    """Stops on SIGINT/SIGTERM without re-raising the signal afterwards (uvicorn does),
    so that the demo can still take its lab down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def demo(
    topology: Annotated[
        Path, typer.Option(help="topology descriptor to run", dir_okay=False)
    ] = DEFAULT_TOPOLOGY,
    host: str = "127.0.0.1",
    port: int = 8080,
    openflow_port: int = 6653,
    emulated: Annotated[bool, typer.Option(help="use the emulated driver even as root")] = False,
    forwarding: Annotated[
        bool, typer.Option(help="shortest-path forwarding between all hosts (off: services only)")
    ] = True,
    run_dir: Annotated[Path, typer.Option(help="database and lab state")] = Path("run/demo"),
) -> None:
    """Run the controller with a demo network (real OVS as root, emulated otherwise)."""
    if not topology.exists():
        out.print(f"[red]error:[/] topology: no file {str(topology)!r} (run from the repository)")
        raise typer.Exit(1)
    try:
        descriptor, _ = load_descriptor(topology.read_text(), str(topology))
    except InventoryError as exc:
        out.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    why_not = None if emulated else real_network_unavailable()
    real = not (emulated or why_not)
    if not real:
        out.print(f"[yellow]emulated network[/] ({why_not or 'asked for'}): no packets move")
        descriptor = on_emulated_driver(descriptor)
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in run_dir.glob("netweave.db*"):
        old.unlink()  # every demo starts from the descriptor
    shutil.rmtree(run_dir / "metrics", ignore_errors=True)
    store = Store.open(f"sqlite:///{run_dir / 'netweave.db'}")
    Inventory(store, InProcessBus()).import_topology(descriptor)
    settings = ControllerSettings(openflow_port=openflow_port, forwarding=forwarding)
    plugins: dict[str, DriverPlugin] | None = (
        None if real else {"emulated": EmulatedPlugin(EmulatedNetwork.from_descriptor(descriptor))}
    )
    tsdb = EmbeddedTSDB(run_dir / "metrics")
    bus = InProcessBus()
    web = create_app(store, bus, Controller(store, settings, plugins, tsdb, bus), tsdb)
    server = _Server(uvicorn.Config(web, host, port, log_level="warning"))
    lab = Lab(descriptor, LabOptions(controller=f"tcp:127.0.0.1:{openflow_port}"), run_dir)
    freeze_heap()
    try:
        asyncio.run(
            _serve(server, lab if real else None, _welcome(descriptor, real, host, port, run_dir))
        )
    finally:
        store.close()


async def _serve(server: uvicorn.Server, lab: Lab | None, welcome: Panel) -> None:
    """Serve until Ctrl-C; the lab (switches reconnect with backoff) comes up meanwhile."""
    serving = asyncio.ensure_future(server.serve())
    try:
        if lab is not None:
            with out.status(f"building lab {lab.name!r} on Open vSwitch…"):
                await asyncio.to_thread(lab.up)
        if not serving.done():
            out.print(welcome)
        await serving
    finally:
        if lab is not None:
            with out.status("taking the lab down…"):
                await asyncio.to_thread(lab.down)


def _welcome(
    descriptor: TopologyDescriptor, real: bool, host: str, port: int, run_dir: Path
) -> Panel:
    url = f"http://{host}:{port}"
    hosts = [d for d in descriptor.devices if d.type == DeviceType.HOST]
    lines = [
        f"web UI     {url}/",
        f"REST API   {url}/api/v1   (OpenAPI: {url}/docs)",
        f"topology   netweave --url {url} topology show",
        f"devices    netweave --url {url} device list",
    ]
    if len(hosts) >= 2:
        a, b = hosts[0], hosts[-1]
        lines.append(
            f"service    netweave --url {url} service create demo {a.name}:eth0 {b.name}:eth0"
        )
        if real and b.ip:
            target = b.ip.split("/")[0]
            lines.append(
                f"ping       netweave lab exec {a.name} --run-dir {run_dir} -- ping {target}"
            )
    lines.append("stop       Ctrl-C (the lab is taken down)")
    kind = "real Open vSwitch lab" if real else "emulated network"
    return Panel("\n".join(lines), title=f"netweave demo: {descriptor.name} ({kind})")
