"""`netweave`: run the controller (`serve`) and drive it through its REST API.

Client commands talk to ``--url`` (env NETWEAVE_URL). Tests inject any `httpx.Client`
(e.g. FastAPI's TestClient) as the click context object: ``runner.invoke(app, args,
obj=client)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
import uvicorn
from rich.console import Console

from netweave.api import create_app, inventory_of
from netweave.assurance import (
    EmbeddedTSDB,
    PrometheusError,
    PrometheusTSDB,
    PrometheusUnavailableError,
    TimeSeriesStore,
)
from netweave.bus import InProcessBus
from netweave.cli import render
from netweave.cli.client import ApiClient, ApiError, ServerUnreachable
from netweave.cli.demo import demo
from netweave.cli.lab import app as lab_app
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.gcpause import freeze_heap
from netweave.inventory import (
    DeviceCreate,
    ImportResult,
    InventoryError,
    LinkCreate,
    PortRef,
    Problem,
    ServiceCreate,
)
from netweave.model import (
    Constraints,
    Device,
    DeviceType,
    Endpoint,
    Link,
    Protection,
    Service,
    ServiceType,
    Topology,
)
from netweave.model.ids import is_id
from netweave.store import Store

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_DB = "sqlite:///netweave.db"

app = typer.Typer(name="netweave", help="Open SDN controller and network platform.")
device_app = typer.Typer(help="Devices (switches, routers, hosts).", no_args_is_help=True)
endpoint_app = typer.Typer(help="Endpoints: the ports of devices.", no_args_is_help=True)
link_app = typer.Typer(help="Links between two ports.", no_args_is_help=True)
service_app = typer.Typer(
    help="Connectivity services: routed, reserved and installed by the controller.",
    no_args_is_help=True,
)
topology_app = typer.Typer(
    help="The whole topology, as tables or descriptors.", no_args_is_help=True
)
app.add_typer(device_app, name="device")
app.add_typer(endpoint_app, name="endpoint")
app.add_typer(link_app, name="link")
app.add_typer(service_app, name="service")
app.add_typer(topology_app, name="topology")

# --- Sub-apps of other parts register here: app.add_typer(<module>.app, name="<name>") ---
app.add_typer(lab_app, name="lab")
app.command()(demo)

out = Console()
err = Console(stderr=True, soft_wrap=True)


@app.callback(no_args_is_help=True)
def main(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="NETWEAVE_URL", help="REST API of a running netweave")
    ] = DEFAULT_URL,
) -> None:
    if not isinstance(ctx.obj, httpx.Client):
        ctx.obj = httpx.Client(base_url=url, timeout=60)


@contextmanager
def api(ctx: typer.Context, source: str | None = None) -> Iterator[ApiClient]:
    """The API client; a refused request prints each field and reason and exits 1."""
    try:
        yield ApiClient(ctx.obj)
    except ApiError as exc:
        fail(exc.problems, source)
    except ServerUnreachable as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None


def fail(problems: Iterable[Problem], source: str | None = None) -> NoReturn:
    """Print each problem (field and reason) on stderr and exit 1."""
    for problem in problems:
        err.print(f"error: {source + ': ' if source else ''}{problem}", markup=False)
    raise typer.Exit(1)


def port_ref(text: str) -> PortRef:
    """``DEVICE:PORT`` (split at the last colon) as a port reference."""
    device, sep, port = text.rpartition(":")
    if not sep or not device or not port:
        raise typer.BadParameter(f"{text!r}: expected DEVICE:PORT, e.g. s1:eth1")
    return PortRef(device=device, endpoint=port)


def _names(client: ApiClient) -> render.Names:
    return render.Names(client.get("/topology", Topology))


# -- serve ----------------------------------------------------------------------------


class MetricsBackend(StrEnum):
    embedded = "embedded"
    prometheus = "prometheus"


def metrics_store(
    backend: MetricsBackend, metrics_dir: Path | None, prometheus_url: str
) -> TimeSeriesStore:
    """The KPI store `serve` uses; a Prometheus server must answer at once."""
    if backend is MetricsBackend.embedded:
        return EmbeddedTSDB(metrics_dir)
    if metrics_dir is not None:
        raise typer.BadParameter("only for --metrics-backend embedded", param_hint="--metrics-dir")
    tsdb = PrometheusTSDB(prometheus_url)
    try:
        tsdb.stats()
    except (PrometheusUnavailableError, PrometheusError) as exc:
        err.print(f"error: --prometheus-url: {exc}", markup=False)
        raise typer.Exit(1) from None
    return tsdb


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    db: Annotated[
        str, typer.Option(envvar="NETWEAVE_DB", help="database URL or file")
    ] = DEFAULT_DB,
    topology: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="descriptor to load first")
    ] = None,
    openflow: Annotated[
        bool, typer.Option(help="listen for OpenFlow switches (off: API and store only)")
    ] = True,
    openflow_host: str = "127.0.0.1",
    openflow_port: int = 6653,
    forwarding: Annotated[
        bool, typer.Option(help="shortest-path forwarding between discovered hosts")
    ] = False,
    metrics_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="NETWEAVE_METRICS_DIR", help="where KPIs are kept (default: in memory only)"
        ),
    ] = None,
    metrics_backend: Annotated[
        MetricsBackend, typer.Option(help="keep KPIs in this process or in a Prometheus server")
    ] = MetricsBackend.embedded,
    prometheus_url: Annotated[
        str,
        typer.Option(
            envvar="NETWEAVE_PROMETHEUS_URL",
            help="server started with --web.enable-remote-write-receiver",
        ),
    ] = "http://127.0.0.1:9090",
) -> None:
    """Run the controller and its REST API."""
    tsdb = metrics_store(metrics_backend, metrics_dir, prometheus_url)
    store = Store.open(db)
    settings = ControllerSettings(
        openflow_host=openflow_host, openflow_port=openflow_port, forwarding=forwarding
    )
    bus = InProcessBus()
    controller = Controller(store, settings, tsdb=tsdb, bus=bus) if openflow else None
    web = create_app(store, bus, controller, tsdb)
    if topology is not None:
        try:
            result = inventory_of(web).load_topology(topology.read_text(), topology.name)
        except InventoryError as exc:
            fail(exc.problems, str(topology))
        out.print(render.import_result(result))
    freeze_heap()
    uvicorn.run(web, host=host, port=port)


# -- devices --------------------------------------------------------------------------


@device_app.command("list")
def device_list(ctx: typer.Context) -> None:
    with api(ctx) as client:
        out.print(render.devices(client.get_list("/devices", Device)))


@device_app.command("show")
def device_show(ctx: typer.Context, device: str) -> None:
    """A device and its ports."""
    with api(ctx) as client:
        found = client.get(f"/devices/{device}", Device)
        ports = client.get_list(f"/devices/{found.id}/endpoints", Endpoint)
        render.print_all(
            out,
            render.fields(f"device {found.name}", found),
            render.endpoints(ports, _names(client)),
        )


@device_app.command("create")
def device_create(
    ctx: typer.Context,
    name: str,
    type: DeviceType = DeviceType.SWITCH,
    driver: Annotated[list[str] | None, typer.Option(help="driver name (repeatable)")] = None,
    address: str | None = None,
    attr: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeatable)")] = None,
) -> None:
    attributes = dict(_key_value(item) for item in attr or [])
    spec = DeviceCreate(
        name=name, type=type, drivers=driver or [], address=address, attributes=attributes
    )
    with api(ctx) as client:
        out.print(render.devices([client.create("/devices", spec, Device)]))


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{text!r}: expected KEY=VALUE")
    return key, value


@device_app.command("delete")
def device_delete(ctx: typer.Context, device: str) -> None:
    """Delete a device and its ports (refused while links or services use them)."""
    with api(ctx) as client:
        client.delete(f"/devices/{device}")
    out.print(f"deleted device {device}")


# -- endpoints ------------------------------------------------------------------------


@endpoint_app.command("list")
def endpoint_list(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option(help="only this device's")] = None,
) -> None:
    path = "/endpoints" if device is None else f"/devices/{device}/endpoints"
    with api(ctx) as client:
        out.print(render.endpoints(client.get_list(path, Endpoint), _names(client)))


@endpoint_app.command("show")
def endpoint_show(
    ctx: typer.Context, endpoint: Annotated[str, typer.Argument(help="DEVICE:PORT or an id")]
) -> None:
    with api(ctx) as client:
        if is_id(endpoint):
            found = client.get(f"/endpoints/{endpoint}", Endpoint)
        else:
            ref = port_ref(endpoint)
            found = _port_of(client, ref)
        out.print(render.fields(f"endpoint {endpoint}", found))


def _port_of(client: ApiClient, ref: PortRef) -> Endpoint:
    for port in client.get_list(f"/devices/{ref.device}/endpoints", Endpoint):
        if port.name == ref.endpoint:
            return port
    raise typer.BadParameter(f"device {ref.device!r} has no port {ref.endpoint!r}")


# -- links ----------------------------------------------------------------------------


@link_app.command("list")
def link_list(ctx: typer.Context) -> None:
    with api(ctx) as client:
        out.print(render.links(client.get_list("/links", Link), _names(client)))


@link_app.command("show")
def link_show(ctx: typer.Context, link: str) -> None:
    with api(ctx) as client:
        found = client.get(f"/links/{link}", Link)
        render.print_all(out, render.links([found], _names(client)), render.fields("", found))


@link_app.command("create")
def link_create(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="DEVICE:PORT")],
    b: Annotated[str, typer.Argument(help="DEVICE:PORT")],
    name: str | None = None,
    capacity_bps: int = 0,
    latency_ms: float = 0.0,
    cost: float = 1.0,
) -> None:
    spec = LinkCreate(
        name=name,
        a=port_ref(a),
        b=port_ref(b),
        capacity_bps=capacity_bps,
        latency_ms=latency_ms,
        cost=cost,
    )
    with api(ctx) as client:
        out.print(render.links([client.create("/links", spec, Link)], _names(client)))


@link_app.command("delete")
def link_delete(ctx: typer.Context, link: str) -> None:
    with api(ctx) as client:
        client.delete(f"/links/{link}")
    out.print(f"deleted link {link}")


# -- services -------------------------------------------------------------------------


@service_app.command("list")
def service_list(ctx: typer.Context) -> None:
    with api(ctx) as client:
        out.print(render.services(client.get_list("/services", Service), _names(client)))


@service_app.command("show")
def service_show(ctx: typer.Context, service: str) -> None:
    with api(ctx) as client:
        found = client.get(f"/services/{service}", Service)
        render.print_all(out, render.services([found], _names(client)), render.fields("", found))


@service_app.command("create")
def service_create(
    ctx: typer.Context,
    name: str,
    endpoints: Annotated[list[str], typer.Argument(help="DEVICE:PORT, two or more")],
    type: ServiceType = ServiceType.P2P,
    bandwidth_bps: int | None = None,
    max_latency_ms: float | None = None,
    protection: Protection = Protection.NONE,
) -> None:
    """Create a service: routed and reserved at once, installed by the controller."""
    spec = ServiceCreate(
        name=name,
        type=type,
        endpoints=[port_ref(item) for item in endpoints],
        constraints=Constraints(
            bandwidth_bps=bandwidth_bps, max_latency_ms=max_latency_ms, protection=protection
        ),
    )
    with api(ctx) as client:
        out.print(render.services([client.create("/services", spec, Service)], _names(client)))


@service_app.command("delete")
def service_delete(ctx: typer.Context, service: str) -> None:
    with api(ctx) as client:
        client.delete(f"/services/{service}")
    out.print(f"deleted service {service}")


# -- topology -------------------------------------------------------------------------


@topology_app.command("load")
def topology_load(
    ctx: typer.Context, file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]
) -> None:
    """Import a descriptor (YAML or JSON): all of it, or nothing."""
    media_type = "application/json" if file.suffix == ".json" else "application/yaml"
    with api(ctx, source=str(file)) as client:
        response = client.request(
            "POST", "/topology", content=file.read_bytes(), headers={"content-type": media_type}
        )
        out.print(render.import_result(ImportResult.model_validate_json(response.content)))


@topology_app.command("export")
def topology_export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="write here (.json for JSON)")] = None,
) -> None:
    """Write the topology as a descriptor that re-imports to it."""
    fmt = "json" if file is not None and file.suffix == ".json" else "yaml"
    with api(ctx) as client:
        text = client.request("GET", "/topology/export", params={"format": fmt}).text
    if file is None:
        typer.echo(text, nl=False)
    else:
        file.write_text(text)
        out.print(f"wrote {file}")


@topology_app.command("show")
def topology_show(ctx: typer.Context) -> None:
    with api(ctx) as client:
        topology = client.get("/topology", Topology)
    names = render.Names(topology)
    render.print_all(out, render.devices(topology.devices), render.links(topology.links, names))
