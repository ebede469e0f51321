"""Monitoring routes: line-protocol writes (also gzip and Telegraf's /write), queries,
series, and /metrics parsed with the Prometheus client's own parser."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from influxdb.line_protocol import make_lines
from prometheus_client.parser import text_string_to_metric_families

from netweave.api import create_app, routes_metrics
from netweave.assurance import EmbeddedTSDB
from netweave.bus import InProcessBus
from netweave.store import Store

V1 = "/api/v1"
T = 1_700_000_000  # seconds


@pytest.fixture
def client(tmp_path: Any) -> Iterator[TestClient]:
    store = Store.open(f"sqlite:///{tmp_path / 'netweave.db'}")
    app = create_app(store, InProcessBus(), tsdb=EmbeddedTSDB(clock=lambda: T * 10**9))
    with TestClient(app) as test_client:
        yield test_client
    store.close()


def write(client: TestClient, body: str, path: str = f"{V1}/write", **params: str) -> Any:
    return client.post(path, content=body.encode(), params=params)


def query(client: TestClient, **params: Any) -> Any:
    return client.get(f"{V1}/query", params={"start": T, "end": T + 60, **params})


def test_write_then_query_round_trip(client: TestClient) -> None:
    lines = [f"if,device=s1,port=p{p} rx={i * 10 * p}i {T + i}" for p in (1, 2) for i in range(60)]
    response = write(client, "\n".join(lines), precision="s")
    assert response.status_code == 204, response.text
    mean = query(client, metric="if.rx", step="30s", agg="mean", tag="port:p1").json()
    assert mean["series"] == [
        {
            "tags": {"device": "s1", "port": "p1"},
            "timestamps_ns": [T * 10**9, (T + 30) * 10**9],
            "values": [145.0, 445.0],
        }
    ]
    rate = query(client, metric="if.rx", step="1m", agg="rate", group_by="device").json()
    assert rate["series"] == [
        {"tags": {"device": "s1"}, "timestamps_ns": [T * 10**9], "values": [30.0]}
    ]
    merged = query(client, metric="if.rx", step="1m", agg="count", group_by="").json()
    assert merged["series"][0] == {"tags": {}, "timestamps_ns": [T * 10**9], "values": [120.0]}
    regex = query(client, metric="if.rx", step="1m", agg="p50", tag="port~p[2-9]").json()
    assert [s["tags"]["port"] for s in regex["series"]] == ["p2"]


def test_telegraf_path_gzip_and_rfc3339(client: TestClient) -> None:
    body = gzip.compress(f"cpu,host=h usage_idle=97.5 {T}000000000\n".encode())
    response = client.post(
        "/write", content=body, params={"db": "telegraf"}, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 204, response.text
    got = query(client, metric="cpu.usage_idle", start="2023-11-14T22:13:20Z", step="10s")
    assert got.json()["series"][0]["values"] == [97.5]


def test_bad_lines_are_reported_and_good_ones_kept(client: TestClient) -> None:
    response = write(client, f"m v=1 {T}\nm v=x {T}\nm,t v=2\n", precision="s")
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("partial write: line 2: field 'v': 'x' is not a number")
    assert "(2 bad lines not written)" in body["error"]
    assert [(item["line"], item["loc"]) for item in body["detail"]] == [
        (2, ["body", 2]),
        (3, ["body", 3]),
    ]
    assert query(client, metric="m.v", agg="count").json()["series"][0]["values"] == [1.0]


@pytest.mark.parametrize(
    ("params", "headers", "body", "fragment"),
    [
        ({"precision": "sec"}, {}, b"m v=1", "precision: 'sec' is not one of"),
        ({}, {"Content-Encoding": "gzip"}, b"not gzip", "body: not gzip UTF-8 text"),
        (
            {},
            {"Content-Encoding": "gzip"},
            gzip.compress(b"m v=1")[:-9],
            "gzip stream is incomplete",
        ),
        ({}, {}, b"m v=\xff", "body: not plain UTF-8 text"),
    ],
)
def test_unreadable_writes_are_400(
    client: TestClient, params: dict[str, str], headers: dict[str, str], body: bytes, fragment: str
) -> None:
    response = client.post(f"{V1}/write", content=body, params=params, headers=headers)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert response.json()["detail"][0]["msg"] == response.json()["error"]


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"step": "fast"}, "step", "'fast' is not a duration"),
        ({"start": "yesterday"}, "start", "'yesterday' is not Unix seconds or an RFC 3339"),
        ({"end": "2026-01-01T00:00:00"}, "end", "RFC 3339"),
        ({"tag": "port"}, "tag", "'port' is not key:value or key~regex"),
        ({"tag": "port~("}, "tag", "not a valid regex"),
        ({"agg": "avg"}, "agg", "'avg' is not one of mean"),
        ({"start": T + 60}, "end", "must be after start_ns"),
        ({"step": "1ms"}, "step", "buckets in the range"),
    ],
)
def test_bad_query_parameters_are_named(
    client: TestClient, params: dict[str, Any], field: str, fragment: str
) -> None:
    response = query(client, metric="m", **params)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["query", field]
    assert fragment in item["msg"]


def test_query_defaults_to_the_last_hour(client: TestClient) -> None:
    write(client, f"m v=4 {time.time_ns() - 10**9}")
    got = client.get(f"{V1}/query", params={"metric": "m.v"}).json()
    assert got["step_ns"] == 60 * 10**9
    assert got["series"][0]["values"] == [4.0]


def test_series_lists_latest_values(client: TestClient) -> None:
    write(
        client,
        f"if,device=s1 rx=1 {T}\nif,device=s1 rx=5 {T + 1}\nif,device=s2 rx=2 {T}",
        precision="s",
    )
    got = client.get(f"{V1}/series", params={"metric": "if.rx", "tag": "device:s1"}).json()
    assert got == [
        {
            "metric": "if.rx",
            "tags": {"device": "s1"},
            "last_timestamp_ns": (T + 1) * 10**9,
            "last_value": 5.0,
        }
    ]
    assert len(client.get(f"{V1}/series").json()) == 2
    bad = client.get(f"{V1}/series", params={"tag": "device:s1"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "metric"]


def test_metrics_parse_with_the_prometheus_parser(client: TestClient) -> None:
    body = (
        f'if.stats,device=s1,port=eth\\ 1,note=a"b\\c rx_bytes=1234i {T}\n'
        f"if.stats,device=s1,port=eth2 rx_bytes=10i {T}\n"
        f"if.stats,device=s1,port=eth2 rx_bytes=20i {T + 1}\n"
        f"9lives,odd.key=x v=1.5 {T}\n"
    )
    assert write(client, body, precision="s").status_code == 204
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = {
        tuple(sorted(s.labels.items())): s.value for s in families["if_stats_rx_bytes"].samples
    }
    assert samples == {
        (("device", "s1"), ("note", 'a"b\\c'), ("port", "eth 1")): 1234.0,
        (("device", "s1"), ("port", "eth2")): 20.0,
    }
    assert families["_9lives_v"].samples[0].labels == {"odd_key": "x"}
    assert families["netweave_tsdb_series"].samples[0].value == 3.0
    assert families["netweave_tsdb_samples_written"].type == "counter"
    assert families["process_cpu_seconds"].samples[0].value > 0


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/write", "/metrics", f"{V1}/write", f"{V1}/query", f"{V1}/series"} <= set(paths)
    assert "400" in paths["/write"]["post"]["responses"]


def test_points_beyond_retention_are_reported_like_influxdb(client: TestClient) -> None:
    week_and_a_day = 8 * 24 * 3600
    response = write(client, f"m v=1 {T - week_and_a_day}\nm v=2 {T}", precision="s")
    assert response.status_code == 400
    assert response.json()["error"] == "partial write: points beyond retention policy dropped=1"
    assert query(client, metric="m.v", agg="sum").json()["series"][0]["values"] == [2.0]


def test_telegraf_database_creation_is_accepted(client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    created = client.post("/query", content=b"q=CREATE+DATABASE+%22telegraf%22", headers=form)
    assert created.json() == {"results": [{"statement_id": 0}]}
    assert client.post("/query", params={"q": 'CREATE DATABASE "x"'}).status_code == 200
    refused = client.post("/query", params={"q": "SELECT * FROM cpu"})
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("q: only CREATE DATABASE is supported here")


def test_lines_made_by_the_influxdb_client_round_trip(client: TestClient) -> None:
    points = [
        {
            "measurement": "cpu load,x",
            "tags": {"ho st": "a,b=c", "z": "1"},
            "fields": {"va=l ue": 1.5, "n": 3, "ok": True, "msg": 'say "hi"'},
            "time": (T + i) * 10**9,
        }
        for i in range(3)
    ]
    body = make_lines({"points": points})
    assert write(client, body, "/write", db="telegraf").status_code == 204
    got = {s["metric"]: (s["tags"], s["last_value"]) for s in client.get(f"{V1}/series").json()}
    tags = {"ho st": "a,b=c", "z": "1"}
    assert got == {
        "cpu load,x.va=l ue": (tags, 1.5),
        "cpu load,x.n": (tags, 3.0),
        "cpu load,x.ok": (tags, 1.0),
    }


def test_bodies_too_large_are_413(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes_metrics, "MAX_BODY_BYTES", 100)
    big = b"m v=1\n" * 20
    response = client.post(f"{V1}/write", content=big)
    assert response.status_code == 413
    assert response.json()["error"] == "body: larger than 100 bytes; send smaller batches"
    bomb = client.post(
        f"{V1}/write", content=gzip.compress(big), headers={"Content-Encoding": "gzip"}
    )
    assert bomb.status_code == 413
    assert bomb.json()["error"] == "body: inflates to more than 100 bytes"
