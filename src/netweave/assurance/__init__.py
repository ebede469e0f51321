"""Assurance: monitoring (an embedded time-series store, line-protocol ingest, Prometheus
exposition).

`EmbeddedTSDB` (and `PrometheusTSDB`, kept in a Prometheus server) implement
`TimeSeriesStore`: write `SampleBatch`es (build one with
`SampleBatch.of`, or parse InfluxDB line protocol with `parse` / a long-lived
`lineproto.LineParser`), ask `Query`s, call `maintain` periodically and `close` at the
end. `exposition.render` writes the Prometheus text format.
"""

from netweave.assurance.lineproto import LineError, LineProtocolError, Parsed, parse
from netweave.assurance.prometheus import (
    PrometheusError,
    PrometheusTSDB,
    PrometheusUnavailableError,
)
from netweave.assurance.query import (
    AGGREGATIONS,
    MaintenanceReport,
    Query,
    QueryResult,
    ResultSeries,
    TagMatcher,
    WriteReport,
)
from netweave.assurance.series import SampleBatch, SeriesKey, series_key
from netweave.assurance.storage import CorruptDataError
from netweave.assurance.tsdb import EmbeddedTSDB, RetentionPolicy, StoreStats, TimeSeriesStore

__all__ = [
    "AGGREGATIONS",
    "CorruptDataError",
    "EmbeddedTSDB",
    "LineError",
    "LineProtocolError",
    "MaintenanceReport",
    "Parsed",
    "PrometheusError",
    "PrometheusTSDB",
    "PrometheusUnavailableError",
    "Query",
    "QueryResult",
    "ResultSeries",
    "RetentionPolicy",
    "SampleBatch",
    "SeriesKey",
    "StoreStats",
    "TagMatcher",
    "TimeSeriesStore",
    "WriteReport",
    "parse",
    "series_key",
]
