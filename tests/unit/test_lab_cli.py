"""`netweave lab` commands: their errors, without building anything (no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netweave.cli.lab import app
from netweave.lab import prereq

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_a_bad_descriptor_is_refused_with_its_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ndevices: [{name: s1}]\n"
        "links:\n- {a: {device: s1, port: p}, b: {device: s2, port: p}}\n"
    )

    code, output = invoke("up", str(bad), "--run-dir", str(tmp_path))

    assert code == 1
    assert "error: links[0].b.device: unknown device 's2'" in output
    assert not (tmp_path / "lab").exists()


def test_a_malformed_file_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndevices: [\n")

    code, output = invoke("up", str(bad), "--run-dir", str(tmp_path))

    assert code == 1
    assert "invalid YAML" in output and "line 3" in output


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    code, output = invoke("up", str(tmp_path / "nope.yaml"))

    assert code == 1
    assert "nope.yaml" in output


def test_up_as_a_user_says_to_run_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prereq.os, "geteuid", lambda: 1000)

    code, output = invoke("up", str(EXAMPLES / "linear.yaml"), "--run-dir", str(tmp_path))

    assert code == 1
    assert "run it as root" in output
    assert not (tmp_path / "lab").exists()


def test_down_needs_a_file_or_all(tmp_path: Path) -> None:
    assert invoke("down", "--run-dir", str(tmp_path)) == (
        1,
        "error: give either a descriptor FILE or --all\n",
    )


def test_status_and_exec_without_labs(tmp_path: Path) -> None:
    assert invoke("status", "--run-dir", str(tmp_path)) == (0, f"no labs under {tmp_path}\n")

    code, output = invoke("exec", "h1", "--run-dir", str(tmp_path), "--", "true")

    assert code == 1
    assert f"host 'h1' is not in any lab under {tmp_path}" in output
