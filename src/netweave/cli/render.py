"""Rich tables for inventory entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from netweave.inventory import ImportResult
from netweave.model import Device, Endpoint, EndpointRef, Link, Service, Topology

T = TypeVar("T")
Column = tuple[str, Callable[[T], object]]


def table(title: str, rows: Iterable[T], columns: Sequence[Column[T]]) -> Table:
    out = Table(title=title, title_justify="left")
    for header, _ in columns:
        out.add_column(header)
    for row in rows:
        out.add_row(*(_text(value(row)) for _, value in columns))
    return out


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def fields(title: str, entity: BaseModel) -> Table:
    """One entity as a two-column table of its fields."""
    data = entity.model_dump(mode="json")
    return table(title, data.items(), [("field", lambda kv: kv[0]), ("value", lambda kv: kv[1])])


class Names:
    """Device and port names by id, to show references readably."""

    def __init__(self, topology: Topology) -> None:
        self._devices = {device.id: device.name for device in topology.devices}
        self._ports = {port.id: port.name for port in topology.endpoints}

    def device(self, device_id: str) -> str:
        return self._devices.get(device_id, device_id)

    def port(self, ref: EndpointRef) -> str:
        return f"{self.device(ref.device_id)}:{self._ports.get(ref.endpoint_id, ref.endpoint_id)}"


def devices(rows: Iterable[Device]) -> Table:
    return table(
        "devices",
        rows,
        [
            ("name", lambda d: d.name),
            ("type", lambda d: d.type.value),
            ("status", lambda d: d.status.value),
            ("drivers", lambda d: d.drivers),
            ("address", lambda d: d.address),
            ("attributes", lambda d: d.attributes),
        ],
    )


def endpoints(rows: Iterable[Endpoint], names: Names) -> Table:
    return table(
        "endpoints",
        rows,
        [
            ("device", lambda e: names.device(e.device_id)),
            ("name", lambda e: e.name),
            ("number", lambda e: e.number),
            ("status", lambda e: e.status.value),
            ("mac", lambda e: e.mac),
            ("ip", lambda e: e.ip),
            ("id", lambda e: e.id),
        ],
    )


def links(rows: Iterable[Link], names: Names) -> Table:
    return table(
        "links",
        rows,
        [
            ("name", lambda link: link.name),
            ("a", lambda link: names.port(link.a)),
            ("b", lambda link: names.port(link.b)),
            ("status", lambda link: link.status.value),
            ("capacity_bps", lambda link: link.capacity_bps),
            ("latency_ms", lambda link: link.latency_ms),
        ],
    )


def services(rows: Iterable[Service], names: Names) -> Table:
    return table(
        "services",
        rows,
        [
            ("name", lambda s: s.name),
            ("type", lambda s: s.type.value),
            ("status", lambda s: s.status.value),
            ("endpoints", lambda s: [names.port(ref) for ref in s.endpoints]),
        ],
    )


def import_result(result: ImportResult) -> Table:
    counts = [("devices", result.devices), ("endpoints", result.endpoints), ("links", result.links)]
    return table(
        "imported",
        counts,
        [
            ("kind", lambda kc: kc[0]),
            ("created", lambda kc: kc[1].created),
            ("updated", lambda kc: kc[1].updated),
            ("unchanged", lambda kc: kc[1].unchanged),
        ],
    )


def print_all(console: Console, *tables: Table) -> None:
    for item in tables:
        console.print(item)
