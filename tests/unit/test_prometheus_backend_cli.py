"""`netweave serve --metrics-backend prometheus` refuses what cannot work before serving."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from netweave.cli.main import app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_unreachable_prometheus_stops_serve_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    args = ["serve", "--metrics-backend", "prometheus", "--prometheus-url", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert f"error: --prometheus-url: Prometheus at {url} is unreachable" in result.output


def test_metrics_dir_is_only_for_the_embedded_backend(tmp_path: Path) -> None:
    args = ["serve", "--metrics-backend", "prometheus", "--metrics-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert (
        "--metrics-dir" in result.output and "only for --metrics-backend embedded" in result.output
    )
