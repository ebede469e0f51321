"""A `TimeSeriesStore` kept in a Prometheus server (`PrometheusTSDB`).

Writes go over Prometheus remote write (protobuf ``WriteRequest``, snappy block
compression, ``POST /api/v1/write``; the server needs ``--web.enable-remote-write-receiver``),
queries are translated to PromQL over ``/api/v1/query_range`` and ``/api/v1/query``.

Names: a metric becomes a Prometheus metric name by replacing every character outside
``[a-zA-Z0-9_:]`` with ``_`` (``port.tx_bytes`` → ``port_tx_bytes``), tag keys become label
names the same way (``:`` excepted). Results carry the metric name as asked (`latest`
without a metric: as stored) and the label names as stored, so tag keys round-trip only
when they are valid label names already. Times are kept in milliseconds. The server
refuses a whole write when one sample is too old for its head block.

Semantics that differ from `EmbeddedTSDB`: ``rate`` is Prometheus' ``rate`` (extrapolated to
the bucket edges); a grouped percentile is the percentile of the per-series percentiles;
`latest` sees the series with a sample in the server's lookback window (5 min by
default); `maintain` does nothing, retention being the server's
(``--storage.tsdb.retention.time``); `WriteReport.new_series` counts the series this
instance had not written before.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import cramjam
import httpx
import numpy as np

from netweave.assurance.query import (
    MaintenanceReport,
    Query,
    QueryResult,
    ResultSeries,
    TagMatcher,
    WriteReport,
    percentile_of,
)
from netweave.assurance.series import FloatArray, Int64Array, SampleBatch, SeriesKey
from netweave.assurance.tsdb import StoreStats

WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
_NS_PER_MS = 1_000_000
_NAME_LABEL = "__name__"


class PrometheusUnavailableError(ConnectionError):
    """The server could not be reached (temporary: retry later)."""


class PrometheusError(RuntimeError):
    """The server refused a write or a query; the message is the server's."""


def metric_name(metric: str) -> str:
    """`metric` as a valid Prometheus metric name."""
    name = re.sub(r"[^a-zA-Z0-9_:]", "_", metric)
    return "_" + name if name[:1].isdigit() else name


def label_name(tag: str) -> str:
    """Tag key `tag` as a valid Prometheus label name; `ValueError` for a reserved one."""
    name = re.sub(r"[^a-zA-Z0-9_]", "_", tag)
    name = "_" + name if name[:1].isdigit() else name
    if name.startswith("__"):
        raise ValueError(f"tags: {tag!r} maps to the reserved label name {name!r}")
    return name


def _labels(key: SeriesKey) -> list[tuple[str, str]]:
    """The series' labels sorted by name, as remote write requires."""
    labels = {_NAME_LABEL: metric_name(key.metric)}
    origin: dict[str, str] = {}
    for tag, value in key.tags:
        name = label_name(tag)
        if name in origin:
            raise ValueError(f"tags: {origin[name]!r} and {tag!r} both map to label {name!r}")
        origin[name] = tag
        labels[name] = value
    return sorted(labels.items())


# Protobuf (proto3) wire format: a field is a varint key (number << 3 | wire type) then
# its value: varint (type 0), 8 little-endian bytes (type 1) or length-prefixed (type 2).


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _samples(stamps_ms: Int64Array, values: FloatArray) -> bytes:
    """TimeSeries field 2 (``Sample{double value = 1; int64 timestamp = 2}``) once per
    sample, encoded column-wise."""
    count = len(stamps_ms)
    unsigned = stamps_ms.view(np.uint64)
    groups = (unsigned[:, None] >> (np.arange(10, dtype=np.uint64) * 7)) & 0x7F
    varint_len = 10 - np.argmax(groups[:, ::-1] != 0, axis=1)
    varint_len[unsigned == 0] = 1
    more = np.arange(10)[None, :] < (varint_len[:, None] - 1)
    varint = (groups | (more * 0x80).astype(np.uint64)).astype(np.uint8)
    rows = np.zeros((count, 22), dtype=np.uint8)
    rows[:, 0] = 2 << 3 | 2
    rows[:, 1] = 10 + varint_len
    rows[:, 2] = 1 << 3 | 1
    rows[:, 3:11] = values.astype("<f8").view(np.uint8).reshape(count, 8)
    rows[:, 11] = 2 << 3 | 0
    rows[:, 12:] = varint
    used = np.arange(22)[None, :] < (12 + varint_len[:, None])
    return bytes(rows[used])


def encode_write_request(batch: SampleBatch) -> bytes:
    """The batch as a remote-write ``WriteRequest``: one ``TimeSeries`` per series with
    its samples in time order (ms)."""
    order = np.lexsort((batch.timestamps, batch.key_index))
    index = batch.key_index[order]
    stamps_ms = batch.timestamps[order] // _NS_PER_MS
    values = batch.values[order]
    cuts = np.flatnonzero(index[1:] != index[:-1]) + 1
    out = bytearray()
    for rows in np.split(np.arange(len(index)), cuts) if len(index) else ():
        key = batch.keys[int(index[rows[0]])]
        labels = b"".join(
            _field(1, _field(1, name.encode()) + _field(2, value.encode()))
            for name, value in _labels(key)
        )
        out += _field(1, labels + _samples(stamps_ms[rows], values[rows]))
    return bytes(out)


def _string(text: str) -> str:
    """`text` as a PromQL double-quoted string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def selector(metric: str, match: Sequence[TagMatcher] = ()) -> str:
    """The PromQL instant-vector selector for `metric` and `match`."""
    parts = [f"{label_name(m.key)}{'=~' if m.regex else '='}{_string(m.value)}" for m in match]
    return f"{metric_name(metric)}{{{','.join(parts)}}}" if parts else metric_name(metric)


def promql(query: Query) -> str:
    """The PromQL expression whose value at t is `query`'s bucket [t - step + 1 ms, t]:
    the window is one step less 1 ms, Prometheus 2 range selectors being closed at both
    ends."""
    if query.step_ns % _NS_PER_MS or query.step_ns < 2 * _NS_PER_MS:
        raise ValueError("step_ns: Prometheus needs a whole number of milliseconds, at least 2")
    series = f"{selector(query.metric, query.match)}[{query.step_ns // _NS_PER_MS - 1}ms]"
    by = query.group_by
    percentile = percentile_of(query.aggregation)

    def over(outer: str, inner: str) -> str:
        if by is None:
            return inner
        labels = f" by ({', '.join(label_name(tag) for tag in by)})" if by else ""
        return f"{outer}{labels} ({inner})"

    if percentile is not None:
        q = format(Decimal(query.aggregation[1:]) / 100, "f")
        inner = f"quantile_over_time({q}, {series})"
        return inner if by is None else over("quantile", f"{q}, {inner}")
    if query.aggregation == "mean":
        if by is None:
            return f"avg_over_time({series})"
        total, count = f"sum_over_time({series})", f"count_over_time({series})"
        return f"{over('sum', total)} / {over('sum', count)}"
    inner_function, outer = {
        "max": ("max_over_time", "max"),
        "min": ("min_over_time", "min"),
        "sum": ("sum_over_time", "sum"),
        "count": ("count_over_time", "sum"),
        "rate": ("rate", "sum"),
    }[query.aggregation]
    return over(outer, f"{inner_function}({series})")


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _tags(labels: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in labels.items() if name != _NAME_LABEL}


class PrometheusTSDB:
    """A `TimeSeriesStore` backed by the Prometheus server at `url`. `transport` replaces
    the HTTP transport (tests). Thread-safe."""

    def __init__(
        self, url: str, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport)
        self._lock = threading.Lock()
        self._seen: set[SeriesKey] = set()
        self._written = 0

    def write(self, batch: SampleBatch) -> WriteReport:
        if len(batch) == 0:
            return WriteReport(samples=0, new_series=0)
        body = bytes(cramjam.snappy.compress_raw(encode_write_request(batch)))
        response = self._send("POST", "/api/v1/write", content=body, headers=WRITE_HEADERS)
        if response.status_code // 100 != 2:
            raise PrometheusError(
                f"{self.url}/api/v1/write refused {len(batch)} samples "
                f"({response.status_code}): {response.text.strip()}"
            )
        with self._lock:
            used = {batch.keys[i] for i in np.unique(batch.key_index).tolist()}
            new = len(used - self._seen)
            self._seen |= used
            self._written += len(batch)
        return WriteReport(samples=len(batch), new_series=new)

    def query(self, query: Query) -> QueryResult:
        step_ms = query.step_ns // _NS_PER_MS
        first_ms = query.start_ns // _NS_PER_MS + step_ms - 1
        last_ms = first_ms + (query.buckets - 1) * step_ms
        params = {
            "query": promql(query),
            "start": _seconds(first_ms),
            "end": _seconds(last_ms),
            "step": _seconds(step_ms),
        }
        series = []
        for item in self._data("/api/v1/query_range", params, "matrix"):
            points = item["values"]
            buckets = [(round(float(t) * 1000) - first_ms) // step_ms for t, _ in points]
            series.append(
                ResultSeries(
                    tags=_tags(item["metric"]),
                    timestamps_ns=[query.start_ns + b * query.step_ns for b in buckets],
                    values=[float(value) for _, value in points],
                )
            )
        return QueryResult.of(query, series)

    def latest(
        self, metric: str | None = None, match: Sequence[TagMatcher] = ()
    ) -> list[tuple[SeriesKey, int, float]]:
        """Without `metric`, the series of every metric name on the server, named as stored."""
        if metric is not None:
            return self._latest(metric, selector(metric, match))
        response = self._send("GET", "/api/v1/label/__name__/values")
        names: list[str] = self._payload(response, "/api/v1/label/__name__/values")
        return [entry for name in sorted(names) for entry in self._latest(name, name)]

    def _latest(self, metric: str, series: str) -> list[tuple[SeriesKey, int, float]]:
        """The newest sample of each series `series` selects, with its own time: the
        value of the instant vector joined with ``timestamp()`` of it on the labels."""
        values = self._data("/api/v1/query", {"query": series}, "vector")
        stamps = self._data("/api/v1/query", {"query": f"timestamp({series})"}, "vector")
        stamp_of = {_tag_tuple(item["metric"]): float(item["value"][1]) for item in stamps}
        found = []
        for item in values:
            tags = _tag_tuple(item["metric"])
            if tags in stamp_of:
                stamp_ns = round(stamp_of[tags] * 1000) * _NS_PER_MS
                found.append((SeriesKey(metric, tags), stamp_ns, float(item["value"][1])))
        found.sort(key=lambda entry: entry[0])
        return found

    def maintain(self, now_ns: int | None = None) -> MaintenanceReport:
        """Nothing to do: the server applies its own retention."""
        return MaintenanceReport()

    def stats(self) -> StoreStats:
        """Series in the server's head block, samples this instance wrote, no partitions
        (the server's blocks are its own)."""
        response = self._send("GET", "/api/v1/status/tsdb")
        status: dict[str, Any] = self._payload(response, "/api/v1/status/tsdb")
        head = status["headStats"]
        with self._lock:
            return StoreStats(
                series=int(head["numSeries"]), samples_written=self._written, partitions=0
            )

    def close(self) -> None:
        self._client.close()

    def _data(self, path: str, params: dict[str, str], kind: str) -> list[dict[str, Any]]:
        """The result list of a PromQL query whose result must be of type `kind`."""
        data: dict[str, Any] = self._payload(self._send("GET", path, params=params), path)
        if data.get("resultType") != kind:
            raise PrometheusError(
                f"{self.url}{path}: expected a {kind}, got {data.get('resultType')!r} "
                f"for {params['query']}"
            )
        result: list[dict[str, Any]] = data["result"]
        return result

    def _payload(self, response: httpx.Response, path: str) -> Any:
        """The ``data`` of a successful API answer; `PrometheusError` with the server's
        message otherwise."""
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text.strip()}
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(
                f"{self.url}{path} ({response.status_code}): {body.get('error', body)}"
            )
        return body["data"]

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise PrometheusUnavailableError(
                f"Prometheus at {self.url} is unreachable: {error}"
            ) from error


def _tag_tuple(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(_tags(labels).items()))
