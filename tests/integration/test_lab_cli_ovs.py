"""`netweave lab` end to end on real Open vSwitch: up, up again, exec, status, down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from netweave.cli.lab import app
from netweave.lab import Lab

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def test_the_cli_builds_runs_in_and_removes_a_lab(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("linear.yaml", up=False)  # registered, so removed even on failure
    base = str(lab.directory.parent.parent)
    linear = str(EXAMPLES / "linear.yaml")

    up = ["up", linear, "--run-dir", base, "--no-controller", "--standalone"]
    first = runner.invoke(app, up)
    again = runner.invoke(app, up)
    pinged = runner.invoke(app, ["exec", "h1", "--run-dir", base, "--", "ping", "-c1", "10.0.0.3"])
    unreachable = runner.invoke(
        app, ["exec", "h1", "--run-dir", base, "--", "ping", "-c1", "-W1", "10.0.0.99"]
    )
    status = runner.invoke(app, ["status", "--run-dir", base])
    down = runner.invoke(app, ["down", "--all", "--run-dir", base])

    assert first.exit_code == 0, first.output
    assert "lab linear is up in" in first.output
    assert "3 switches, 3 hosts, 5 links" in first.output
    assert again.output.startswith("lab linear is already up")
    assert (pinged.exit_code, unreachable.exit_code) == (0, 1)
    assert "│ linear │ up " in status.output
    assert down.output == "lab linear: down\n"
    assert not lab.directory.exists()
