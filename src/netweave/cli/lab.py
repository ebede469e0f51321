"""`netweave lab`: build a topology descriptor on real Open vSwitch and namespaces.

Run as root. Labs live in ``<run dir>/lab/<name>/`` (run dir: ``--run-dir``, else
``$NETWEAVE_RUN_DIR``, else ``./run``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from netweave.inventory import InventoryError, load_descriptor
from netweave.lab import (
    STEPS,
    Lab,
    LabError,
    LabOptions,
    StateFile,
    check_prerequisites,
    default_base_dir,
    find_labs,
    inspect,
    lab_dir,
    teardown,
)
from netweave.model import TopologyDescriptor

app = typer.Typer(help="Labs: descriptors built on Open vSwitch and namespaces (as root).")
out = Console()
err = Console(stderr=True, soft_wrap=True)


class DatapathChoice(StrEnum):
    """Both are the userspace datapath; see `netweave.lab.ovs`."""

    DUMMY = "dummy"
    NETDEV = "netdev"


RunDir = Annotated[
    Path | None,
    typer.Option("--run-dir", help="where labs live [default: $NETWEAVE_RUN_DIR or ./run]"),
]


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the lab's and the descriptor's errors into one red line and exit code 1."""
    try:
        yield
    except (LabError, InventoryError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


def _base(run_dir: Path | None) -> Path:
    return run_dir if run_dir is not None else default_base_dir()


def _read(file: Path) -> TopologyDescriptor:
    descriptor, _ = load_descriptor(file.read_text(), str(file))
    return descriptor


@app.command()
def up(
    file: Annotated[Path, typer.Argument(help="topology descriptor (YAML or JSON)")],
    controller: Annotated[
        str, typer.Option(help="OpenFlow controller of every switch")
    ] = "tcp:127.0.0.1:6653",
    no_controller: Annotated[bool, typer.Option(help="connect the switches to none")] = False,
    standalone: Annotated[
        bool,
        typer.Option(
            help="learning switches while no controller is connected: at once with "
            "--no-controller, else after 3 probe intervals (15 s) without one"
        ),
    ] = False,
    datapath: Annotated[
        DatapathChoice, typer.Option(help="dummy: labs side by side; netdev: one per machine")
    ] = DatapathChoice.DUMMY,
    run_dir: RunDir = None,
) -> None:
    """Build the lab of FILE; says so when it is already up."""
    with _errors():
        options = LabOptions(
            controller=None if no_controller else controller,
            datapath="dummy" if datapath is DatapathChoice.DUMMY else "netdev",
            fail_mode=_fail_mode(standalone),
        )
        lab = Lab(_read(file), options, _base(run_dir))
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
        )
        with Progress(
            *columns, console=out, transient=True, disable=not out.is_terminal
        ) as progress:
            task = progress.add_task(f"lab {lab.name}", total=len(STEPS))

            def on_step(name: str) -> None:
                progress.update(task, description=f"lab {lab.name}: {name}", advance=1)

            result = lab.up(on_step)
        if not result.built:
            out.print(f"lab {lab.name} is already up ({lab.directory})")
            return
        if result.repaired:
            out.print(f"lab {lab.name} was broken ({'; '.join(result.repaired)}): rebuilt")
        plan = lab.plan
        out.print(
            f"lab {lab.name} is up in {result.seconds:.2f} s: {len(plan.switches)} switches, "
            f"{len(plan.hosts)} hosts, {len(plan.links)} links ({lab.directory})"
        )


def _fail_mode(standalone: bool) -> Literal["secure", "standalone"]:
    return "standalone" if standalone else "secure"


@app.command()
def down(
    file: Annotated[Path | None, typer.Argument(help="descriptor of the lab")] = None,
    all_labs: Annotated[bool, typer.Option("--all", help="every lab in the run dir")] = False,
    run_dir: RunDir = None,
) -> None:
    """Remove everything a lab made (works from its state file, even after a crash)."""
    with _errors():
        base = _base(run_dir)
        if all_labs and file is None:
            directories = find_labs(base)
        elif file is not None and not all_labs:
            directories = [lab_dir(base, _read(file).name)]
        else:
            raise LabError("give either a descriptor FILE or --all")
        check_prerequisites()
        if not directories:
            out.print(f"no labs under {base}")
        for directory in directories:
            removed = teardown(directory)
            out.print(f"lab {directory.name}: {'down' if removed else 'was not up'}")


@app.command()
def status(run_dir: RunDir = None) -> None:
    """Show the labs in the run dir and whether everything they made is in place."""
    with _errors():
        base = _base(run_dir)
        directories = find_labs(base)
        if not directories:
            out.print(f"no labs under {base}")
            return
        table = Table(
            "lab", "state", "switches", "hosts", "controller", "datapath",
            title=f"labs under {base}", title_justify="left",
        )  # fmt: skip
        for directory in directories:
            s = inspect(directory)
            health = "[green]up[/green]" if s.up else f"[red]broken[/red]: {'; '.join(s.problems)}"
            table.add_row(
                s.state.name,
                health,
                str(len(s.state.switches)),
                str(len(s.state.hosts)),
                s.state.controller or "-",
                s.state.datapath,
            )
        out.print(table)


@app.command("exec")
def exec_(
    host: Annotated[str, typer.Argument(help="host name, as in the descriptor")],
    command: Annotated[list[str], typer.Argument(help="command to run (after --)")],
    lab: Annotated[str | None, typer.Option(help="lab name, when several have HOST")] = None,
    run_dir: RunDir = None,
) -> None:
    """Run a command in a host's namespace, e.g. `netweave lab exec h1 -- ping 10.0.0.2`."""
    with _errors():
        netns = _netns_of(host, lab, _base(run_dir))
        code = subprocess.run(["ip", "netns", "exec", netns, *command], check=False).returncode
    raise typer.Exit(code)


def _netns_of(host: str, lab: str | None, base: Path) -> str:
    states = [StateFile(d).load() for d in find_labs(base)]
    states = [s for s in states if lab is None or s.name == lab]
    found = [s for s in states if host in s.hosts]
    if not found:
        where = f"lab {lab!r}" if lab else f"any lab under {base}"
        raise LabError(f"host {host!r} is not in {where}")
    if len(found) > 1:
        labs = ", ".join(s.name for s in found)
        raise LabError(f"host {host!r} is in labs {labs}: choose one with --lab")
    return found[0].hosts[host]


if __name__ == "__main__":
    app()
