"""`PrometheusTSDB` against a real, throwaway Prometheus server (Debian's ``prometheus``):
what is written reads back through the `TimeSeriesStore` protocol with the same
aggregates as `EmbeddedTSDB` computes from the same samples."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from netweave.assurance import (
    EmbeddedTSDB,
    PrometheusError,
    PrometheusTSDB,
    Query,
    QueryResult,
    RetentionPolicy,
    SampleBatch,
    TagMatcher,
    series_key,
)

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="needs Debian's prometheus"
)

S = 1_000_000_000
STEP = 10 * S
READY_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """The URL of a Prometheus server of our own (no scrapes, remote write on), stopped
    by its PID after the test."""
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    url = f"http://127.0.0.1:{free_port()}"
    log = (tmp_path / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
            "--web.enable-remote-write-receiver",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"prometheus did not start: {(tmp_path / 'prometheus.log').read_text()}"
                )
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def samples(start_ns: int) -> SampleBatch:
    """60 s of one sample a second for 2 devices x 2 ports; `port.tx_bytes` is a counter
    rising 1000 bytes/s per series."""
    rng = np.random.default_rng(5)
    rows = []
    for device in ("s1", "s2"):
        for port in ("1", "2"):
            gauge = series_key("port.util", {"device": device, "port": port})
            counter = series_key("port.tx_bytes", {"device": device, "port": port})
            for second in range(60):
                ts = start_ns + second * S
                rows.append((gauge, ts, float(rng.integers(0, 1000))))
                rows.append((counter, ts, 1000.0 * second))
    return SampleBatch.of(rows)


def assert_same(got: QueryResult, expected: QueryResult) -> None:
    assert [s.tags for s in got.series] == [s.tags for s in expected.series]
    for mine, theirs in zip(got.series, expected.series, strict=True):
        assert mine.timestamps_ns == theirs.timestamps_ns
        assert mine.values == pytest.approx(theirs.values, rel=1e-9)


def test_written_samples_read_back_like_the_embedded_store(prometheus: str) -> None:
    start = time.time_ns() // STEP * STEP - 120 * S  # recent: the server's head block
    batch = samples(start)
    embedded = EmbeddedTSDB(policy=RetentionPolicy(downsample_after_ns=None, retention_ns=None))
    embedded.write(batch)
    tsdb = PrometheusTSDB(prometheus)
    try:
        report = tsdb.write(batch)
        assert (report.samples, report.new_series) == (len(batch), 8)

        for aggregation, group_by in [
            ("mean", None),
            ("max", None),
            ("min", None),
            ("sum", None),
            ("count", None),
            ("p95", None),
            ("mean", ["device"]),
            ("max", ["port"]),
            ("min", []),
            ("sum", ["device"]),
            ("count", []),
        ]:
            query = Query(
                metric="port.util",
                start_ns=start,
                end_ns=start + 60 * S,
                step_ns=STEP,
                aggregation=aggregation,
                group_by=group_by,
                match=[TagMatcher(key="device", value="s[12]", regex=True)],
            )
            assert_same(tsdb.query(query), embedded.query(query))

        rate = Query(
            metric="port.tx_bytes",
            start_ns=start,
            end_ns=start + 60 * S,
            step_ns=STEP,
            aggregation="rate",
            group_by=["device"],
        )
        result = tsdb.query(rate)
        assert [s.tags for s in result.series] == [{"device": "s1"}, {"device": "s2"}]
        for series in result.series:
            assert len(series.values) == 6
            assert series.values == pytest.approx([2000.0] * 6)  # 2 ports x 1000 bytes/s

        match = [TagMatcher(key="port", value="2")]
        assert tsdb.latest("port.util", match) == embedded.latest("port.util", match)
        assert tsdb.stats().series == 8
    finally:
        tsdb.close()


def test_a_refused_write_carries_the_servers_message(prometheus: str) -> None:
    tsdb = PrometheusTSDB(prometheus)
    now = time.time_ns()
    try:
        tsdb.write(SampleBatch.of([(series_key("m"), now, 1.0)]))
        with pytest.raises(PrometheusError, match=r"refused 1 samples \(400\): out of bounds"):
            tsdb.write(SampleBatch.of([(series_key("m"), now - 24 * 3600 * S, 1.0)]))
    finally:
        tsdb.close()
