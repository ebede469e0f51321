"""The ``link.utilisation`` KPI: per link, the busier direction's transmit rate as a
percentage of the link's capacity, from the ``port.tx_bytes`` counters the statistics
collector writes (tagged with ``link``)."""

from __future__ import annotations

from netweave.assurance import Query, SampleBatch, TagMatcher, TimeSeriesStore, series_key
from netweave.store import Store

METRIC = "link.utilisation"
SOURCE = "port.tx_bytes"
NS = 1_000_000_000


def update_link_utilisation(
    store: Store, tsdb: TimeSeriesStore, now_ns: int, window_s: float = 3.0
) -> int:
    """Write one ``link.utilisation`` sample (percent) per link with a capacity and a
    transmit rate over the last `window_s`; returns how many were written."""
    start = now_ns - int(window_s * NS)
    query = Query(
        metric=SOURCE,
        start_ns=start,
        end_ns=now_ns,
        step_ns=now_ns - start,
        aggregation="rate",
        match=[TagMatcher(key="link", value=".+", regex=True)],
        group_by=["link", "device"],
    )
    busiest: dict[str, float] = {}
    for series in tsdb.query(query).series:
        link = series.tags["link"]
        busiest[link] = max(busiest.get(link, 0.0), max(series.values, default=0.0))
    if not busiest:
        return 0
    with store.read() as repo:
        capacity = {link.name: link.capacity_bps for link in repo.links.list()}
    samples = [
        (series_key(METRIC, {"link": link}), now_ns, 100.0 * rate * 8 / capacity[link])
        for link, rate in busiest.items()
        if capacity.get(link)
    ]
    if samples:
        tsdb.write(SampleBatch.of(samples))
    return len(samples)
