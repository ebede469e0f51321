"""Statistics collection: port counters of every connected device, into the time-series
store, every `interval` seconds.

Series are ``port.<counter>`` (rx_bytes, tx_packets, … see `PORT_COUNTERS`) tagged with
``device`` and ``port`` names, and ``link`` when the port is on a link, so a link's
utilisation is a ``rate`` query over ``port.tx_bytes`` with ``link=<name>``.
"""

from __future__ import annotations

import logging

from netweave.assurance import SampleBatch, SeriesKey, series_key
from netweave.controller.collector import Collector
from netweave.drivers import PORT_COUNTERS, DeviceUnreachableError, DriverError, StatisticsSource

log = logging.getLogger(__name__)


class StatsCollector(Collector):
    """Polls `StatisticsSource` drivers and writes one sample per counter and port."""

    round_name = "statistics round"

    async def collect_once(self) -> int:
        """One round over every connected device; returns how many samples were written."""
        tags = self._port_tags()
        samples: list[tuple[SeriesKey, int, float]] = []
        for device in self._manager.connected_devices():
            driver = self._manager.driver(device.id)
            if not isinstance(driver, StatisticsSource) or not driver.capabilities.statistics:
                continue
            try:
                counters = await driver.port_stats()
            except (DeviceUnreachableError, DriverError) as exc:
                log.debug("no statistics from %s: %s", device.name, exc)
                continue
            now = self._clock()
            for port in counters:
                where = tags.get((device.id, port.port), {"device": device.name})
                samples += [
                    (series_key(f"port.{name}", where), now, float(getattr(port, name)))
                    for name in PORT_COUNTERS
                ]
        if samples:
            self._tsdb.write(SampleBatch.of(samples))
        return len(samples)

    def _port_tags(self) -> dict[tuple[str, int], dict[str, str]]:
        """(device id, port number) -> its tags: device, port and link names."""
        with self._store.read() as repo:
            names = {d.id: d.name for d in repo.devices.list()}
            links = {
                end.endpoint_id: link.name for link in repo.links.list() for end in (link.a, link.b)
            }
            return {
                (e.device_id, e.number): {
                    "device": names.get(e.device_id, e.device_id),
                    "port": e.name,
                    **({"link": links[e.id]} if e.id in links else {}),
                }
                for e in repo.endpoints.list()
                if e.number is not None
            }
