"""`PrometheusTSDB` against a fake server: the remote-write bytes decode back (snappy block,
protobuf), the PromQL sent for each aggregation, result parsing, and clear errors."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import cramjam
import httpx
import numpy as np
import pytest

from netweave.assurance import Query, SampleBatch, TagMatcher, series_key
from netweave.assurance.prometheus import (
    WRITE_HEADERS,
    PrometheusError,
    PrometheusTSDB,
    PrometheusUnavailableError,
    encode_write_request,
    metric_name,
    promql,
)

S = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_000 * S
URL = "http://prom.test:9090"

# A protobuf reader written from the wire-format spec, independent of the encoder.


def read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def read_fields(data: bytes) -> list[tuple[int, int | float | bytes]]:
    fields: list[tuple[int, int | float | bytes]] = []
    at = 0
    while at < len(data):
        key, at = read_varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == 0:
            raw, at = read_varint(data, at)
            fields.append((number, raw - (1 << 64) if raw >= 1 << 63 else raw))
        elif kind == 1:
            fields.append((number, struct.unpack("<d", data[at : at + 8])[0]))
            at += 8
        elif kind == 2:
            size, at = read_varint(data, at)
            fields.append((number, data[at : at + size]))
            at += size
        else:
            raise AssertionError(f"unexpected wire type {kind}")
    return fields


def decode_write_request(
    data: bytes,
) -> list[tuple[list[tuple[str, str]], list[tuple[float, int]]]]:
    """[(labels, [(value, timestamp ms)])] per TimeSeries."""
    out = []
    for number, series in read_fields(data):
        assert number == 1 and isinstance(series, bytes)
        labels, samples = [], []
        for field, payload in read_fields(series):
            assert isinstance(payload, bytes)
            parts = dict(read_fields(payload))
            if field == 1:
                labels.append((bytes(parts[1]).decode(), bytes(parts[2]).decode()))  # type: ignore[arg-type]
            else:
                assert field == 2
                samples.append((float(parts.get(1, 0.0)), int(parts.get(2, 0))))
        out.append((labels, samples))
    return out


class FakeServer:
    """Records requests; answers with `respond` (default: 204 to writes)."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond or (lambda request: httpx.Response(204))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    def tsdb(self) -> PrometheusTSDB:
        return PrometheusTSDB(URL, transport=httpx.MockTransport(self))


def success(result_type: str, result: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(
        200, json={"status": "success", "data": {"resultType": result_type, "result": result}}
    )


def test_write_sends_snappy_protobuf_that_decodes_back() -> None:
    server = FakeServer()
    a = series_key("port.tx_bytes", {"device": "s1", "port": "1", "Zone": "eu"})
    b = series_key("9lives", {})
    batch = SampleBatch.of(
        [
            (a, T0 + 2 * S, 20.5),
            (b, -3 * MS, -1.0),
            (a, T0 + 1 * S + 999_999, 10.0),
            (b, 0, math.inf),
        ]
    )

    report = server.tsdb().write(batch)

    (request,) = server.requests
    assert request.method == "POST" and request.url == f"{URL}/api/v1/write"
    for header, value in WRITE_HEADERS.items():
        assert request.headers[header] == value
    raw = bytes(cramjam.snappy.decompress_raw(request.content))
    assert decode_write_request(raw) == [
        (
            [("Zone", "eu"), ("__name__", "port_tx_bytes"), ("device", "s1"), ("port", "1")],
            [(10.0, (T0 + S) // MS), (20.5, (T0 + 2 * S) // MS)],
        ),
        ([("__name__", "_9lives")], [(-1.0, -3), (math.inf, 0)]),
    ]
    assert (report.samples, report.new_series) == (4, 2)
    assert server.tsdb().write(SampleBatch.of([])).samples == 0


def test_write_encodes_timestamps_of_every_varint_length() -> None:
    stamps_ms = [0, 1, 127, 128, 16_383, 16_384, 2**35, 2**43 - 1, -1, -(2**43)]
    batch = SampleBatch(
        [series_key("m")],
        np.zeros(len(stamps_ms), dtype=np.int32),
        np.array(stamps_ms, dtype=np.int64) * MS,
        np.arange(len(stamps_ms), dtype=np.float64),
    )
    ((labels, samples),) = decode_write_request(encode_write_request(batch))
    assert labels == [("__name__", "m")]
    by_time = sorted(zip(stamps_ms, range(len(stamps_ms)), strict=True))
    assert samples == [(float(value), ms) for ms, value in by_time]


def test_repeated_series_are_not_new_again() -> None:
    server = FakeServer()
    tsdb = server.tsdb()
    key = series_key("m", {"device": "s1"})
    tsdb.write(SampleBatch.of([(key, T0, 1.0)]))
    report = tsdb.write(SampleBatch.of([(key, T0 + S, 2.0), (series_key("n"), T0, 1.0)]))
    assert (report.samples, report.new_series) == (2, 1)


def test_tags_that_collide_or_are_reserved_are_refused() -> None:
    tsdb = FakeServer().tsdb()
    with pytest.raises(ValueError, match=r"'a\.b' and 'a_b' both map to label 'a_b'"):
        tsdb.write(SampleBatch.of([(series_key("m", {"a.b": "1", "a_b": "2"}), T0, 1.0)]))
    with pytest.raises(ValueError, match="'__x' maps to the reserved label name"):
        tsdb.write(SampleBatch.of([(series_key("m", {"__x": "1"}), T0, 1.0)]))


def test_metric_names_are_sanitised() -> None:
    assert metric_name("port.tx_bytes") == "port_tx_bytes"
    assert metric_name("a:b-c d") == "a:b_c_d"
    assert metric_name("5g.ran") == "_5g_ran"


def query(aggregation: str, group_by: list[str] | None = None, **extra: Any) -> Query:
    return Query(
        metric="port.tx_bytes",
        start_ns=T0,
        end_ns=T0 + 60 * S,
        step_ns=10 * S,
        aggregation=aggregation,
        group_by=group_by,
        **extra,
    )


SEL = "port_tx_bytes[9999ms]"


@pytest.mark.parametrize(
    ("aggregation", "group_by", "expected"),
    [
        ("mean", None, f"avg_over_time({SEL})"),
        ("max", None, f"max_over_time({SEL})"),
        ("min", None, f"min_over_time({SEL})"),
        ("sum", None, f"sum_over_time({SEL})"),
        ("count", None, f"count_over_time({SEL})"),
        ("rate", None, f"rate({SEL})"),
        ("p95", None, f"quantile_over_time(0.95, {SEL})"),
        (
            "mean",
            ["device"],
            f"sum by (device) (sum_over_time({SEL})) / sum by (device) (count_over_time({SEL}))",
        ),
        ("max", ["device", "port"], f"max by (device, port) (max_over_time({SEL}))"),
        ("min", [], f"min (min_over_time({SEL}))"),
        ("sum", ["device"], f"sum by (device) (sum_over_time({SEL}))"),
        ("count", ["device"], f"sum by (device) (count_over_time({SEL}))"),
        ("rate", [], f"sum (rate({SEL}))"),
        (
            "p99.9",
            ["device"],
            f"quantile by (device) (0.999, quantile_over_time(0.999, {SEL}))",
        ),
    ],
)
def test_promql_per_aggregation(
    aggregation: str, group_by: list[str] | None, expected: str
) -> None:
    assert promql(query(aggregation, group_by)) == expected


def test_promql_matchers_are_escaped() -> None:
    match = [
        TagMatcher(key="device", value='s"1\\'),
        TagMatcher(key="link.id", value="l[0-9]+", regex=True),
    ]
    assert promql(query("max", match=match)) == (
        'max_over_time(port_tx_bytes{device="s\\"1\\\\",link_id=~"l[0-9]+"}[9999ms])'
    )


def test_steps_prometheus_cannot_express_are_refused() -> None:
    with pytest.raises(ValueError, match="step_ns: Prometheus needs a whole number of milli"):
        promql(query("mean").model_copy(update={"step_ns": 1_500_000_1}))
    with pytest.raises(ValueError, match="at least 2"):
        promql(query("mean").model_copy(update={"step_ns": MS}))


def test_query_range_is_parsed_into_buckets() -> None:
    first = (T0 + 10 * S) / S - 0.001  # first bucket [T0, T0 + 10 s) is evaluated at its end

    def respond(request: httpx.Request) -> httpx.Response:
        return success(
            "matrix",
            [
                {"metric": {"device": "s2"}, "values": [[first + 20, "7"], [first + 50, "NaN"]]},
                {"metric": {"device": "s1"}, "values": [[first, "1.5"], [first + 10, "+Inf"]]},
            ],
        )

    server = FakeServer(respond)
    result = server.tsdb().query(query("max", ["device"]))

    (request,) = server.requests
    assert request.url.path == "/api/v1/query_range"
    assert request.url.params["query"] == f"max by (device) (max_over_time({SEL}))"
    assert request.url.params["start"] == "1700000009.999"
    assert request.url.params["end"] == "1700000059.999"
    assert request.url.params["step"] == "10.000"
    assert (result.metric, result.aggregation, result.step_ns) == ("port.tx_bytes", "max", 10 * S)
    s1, s2 = result.series
    assert s1.tags == {"device": "s1"} and s1.timestamps_ns == [T0, T0 + 10 * S]
    assert s1.values == [1.5, math.inf]
    assert s2.tags == {"device": "s2"} and s2.timestamps_ns == [T0 + 20 * S, T0 + 50 * S]
    assert s2.values[0] == 7.0 and math.isnan(s2.values[1])


def test_latest_joins_values_and_sample_times() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.params["query"].startswith("timestamp("):
            stamps = [
                {"metric": {"device": "s2"}, "value": [9.0, "1700000002"]},
                {"metric": {"device": "s1"}, "value": [9.0, "1700000001.25"]},
            ]
            return success("vector", stamps)
        values = [
            {"metric": {"__name__": "port_tx_bytes", "device": "s1"}, "value": [9.0, "42"]},
            {"metric": {"__name__": "port_tx_bytes", "device": "s2"}, "value": [9.0, "7"]},
        ]
        return success("vector", values)

    server = FakeServer(respond)
    found = server.tsdb().latest("port.tx_bytes", [TagMatcher(key="device", value="s.")])

    assert found == [
        (series_key("port.tx_bytes", {"device": "s1"}), T0 + 1_250 * MS, 42.0),
        (series_key("port.tx_bytes", {"device": "s2"}), T0 + 2 * S, 7.0),
    ]
    assert [r.url.params["query"] for r in server.requests] == [
        'port_tx_bytes{device="s."}',
        'timestamp(port_tx_bytes{device="s."})',
    ]


def test_latest_without_a_metric_asks_each_stored_name() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/label/__name__/values":
            return httpx.Response(200, json={"status": "success", "data": ["up_time", "a_b"]})
        name = request.url.params["query"].removeprefix("timestamp(").rstrip(")")
        value = "1700000000" if request.url.params["query"].startswith("timestamp(") else "3"
        return success(
            "vector", [{"metric": {"__name__": name, "host": "h1"}, "value": [0, value]}]
        )

    assert FakeServer(respond).tsdb().latest() == [
        (series_key("a_b", {"host": "h1"}), T0, 3.0),
        (series_key("up_time", {"host": "h1"}), T0, 3.0),
    ]


def test_stats_counts_the_servers_series_and_our_samples() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/status/tsdb":
            body = {"status": "success", "data": {"headStats": {"numSeries": 12}}}
            return httpx.Response(200, json=body)
        return httpx.Response(204)

    tsdb = FakeServer(respond).tsdb()
    tsdb.write(SampleBatch.of([(series_key("m"), T0, 1.0), (series_key("m"), T0 + S, 2.0)]))
    stats = tsdb.stats()
    assert (stats.series, stats.samples_written, stats.partitions) == (12, 2, 0)


def test_a_refused_write_carries_the_servers_message() -> None:
    server = FakeServer(lambda request: httpx.Response(400, text="out of bounds\n"))
    with pytest.raises(PrometheusError, match=r"write refused 1 samples \(400\): out of bounds$"):
        server.tsdb().write(SampleBatch.of([(series_key("m"), T0, 1.0)]))


def test_a_query_error_carries_the_servers_message() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
    server = FakeServer(lambda request: httpx.Response(400, json=body))
    with pytest.raises(PrometheusError, match=r"query_range \(400\): parse error at char 3"):
        server.tsdb().query(query("mean"))


def test_an_unexpected_result_type_is_an_error() -> None:
    server = FakeServer(lambda request: success("scalar", []))
    with pytest.raises(PrometheusError, match="expected a vector, got 'scalar'"):
        server.tsdb().latest("m")


def test_an_unreachable_server_is_named() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    tsdb = PrometheusTSDB(URL + "/", transport=httpx.MockTransport(refuse))
    with pytest.raises(PrometheusUnavailableError, match=f"Prometheus at {URL} is unreachable"):
        tsdb.write(SampleBatch.of([(series_key("m"), T0, 1.0)]))
    with pytest.raises(PrometheusUnavailableError):
        tsdb.query(query("mean"))
