"""The web UI on a 200-switch emulated network, in headless Chromium.

Run: ``python -m bench.webui [--quick]`` (needs Debian's chromium and the built UI).

Network: a 20 x 10 grid of switches (370 links) with a host on each of the first 20
(390 links in all), on the emulated driver. Measured:

- time to first render: navigation start to the laid-out graph drawn, best of 3;
  baseline: fetching the topology JSON in the page (the floor of any page showing it);
- 100 link events (quick: 20): links set down one after another, each in its own store
  transaction (as the controller reports them), timed from the first write until the
  page shows all of them down, as events per second. netweave applies each event to its
  one edge; the baseline re-reads the whole topology and lays the graph out again (same
  layout) per event: what a page without an event stream would do. The controller does
  not run here, so that its discovery rounds on 200 switches do not share the 2 cores.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page
from tests.e2e.harness import LiveServer, chromium, live_server

from bench.common import parser, report
from netweave.model import OperStatus, TopologyDescriptor
from netweave.model.descriptor import DeviceSpec, LinkEnd, LinkSpec, PortSpec

COLUMNS, ROWS, HOSTS = 20, 10, 20

# The baseline's event handling: per event, fetch everything and draw it from scratch.
REFETCH_PER_EVENT = """async count => {
  const cy = netweave.graph.cy;
  let done = 0;
  const source = new EventSource('/api/v1/events/stream?topics=link.status');
  let chain = Promise.resolve();
  await new Promise(ready => source.addEventListener('ready', ready));
  window.baselineDone = () => done;
  source.onmessage = () => { chain = chain.then(async () => {
    const topology = await (await fetch('/api/v1/topology')).json();
    cy.batch(() => {
      cy.elements().remove();
      cy.add(topology.devices.map(d => ({group: 'nodes', data: {
        id: d.id, name: d.name, type: d.type, status: d.status}})));
      cy.add(topology.links.map(l => ({group: 'edges', data: {id: l.id, name: l.name,
        source: l.a.device_id, target: l.b.device_id, status: l.status}})));
    });
    await new Promise(laid => { const layout = cy.layout({name: 'fcose', animate: false,
      randomize: true}); layout.one('layoutstop', laid); layout.run(); });
    done += 1;
  }); };
}"""


def grid() -> TopologyDescriptor:
    """COLUMNS x ROWS switches, each linked to its right and lower neighbours."""
    name = lambda col, row: f"s{row * COLUMNS + col + 1}"  # noqa: E731
    ports = [PortSpec(name=f"eth{n}", number=n) for n in range(1, 6)]
    devices = [
        DeviceSpec(name=name(c, r), drivers=["emulated"], ports=ports)
        for r in range(ROWS)
        for c in range(COLUMNS)
    ]
    links = []
    for r in range(ROWS):
        for c in range(COLUMNS):
            if c + 1 < COLUMNS:
                links.append(
                    LinkSpec(
                        a=LinkEnd(device=name(c, r), port="eth1"),
                        b=LinkEnd(device=name(c + 1, r), port="eth2"),
                    )
                )
            if r + 1 < ROWS:
                links.append(
                    LinkSpec(
                        a=LinkEnd(device=name(c, r), port="eth3"),
                        b=LinkEnd(device=name(c, r + 1), port="eth4"),
                    )
                )
    for h in range(HOSTS):
        devices.append(DeviceSpec(name=f"h{h + 1}", type="host", ports=[PortSpec(name="eth0")]))
        links.append(
            LinkSpec(
                a=LinkEnd(device=f"h{h + 1}", port="eth0"),
                b=LinkEnd(device=name(h, 0), port="eth5"),
            )
        )
    return TopologyDescriptor(name="grid200", devices=devices, links=links)


def set_status(server: LiveServer, ids: list[str], status: OperStatus) -> float:
    """Seconds to write each link's status in its own transaction (as a controller
    reporting link by link does); each commit publishes a link.status event."""
    started = time.perf_counter()
    for link_id in ids:
        with server.store.transaction() as tx:
            tx.links.update(tx.links.get(link_id).model_copy(update={"status": status}))
    return time.perf_counter() - started


def open_ui(page: Page, url: str) -> float:
    """Load the UI; ms from navigation to the laid-out graph drawn."""
    page.goto(url)
    page.wait_for_function("window.netweave?.graph.firstRenderMs != null", timeout=120_000)
    ms: float = page.evaluate("netweave.graph.firstRenderMs")
    return ms


def fetch_ms(page: Page) -> float:
    ms: float = page.evaluate(
        "async () => { const t = performance.now();"
        " await (await fetch('/api/v1/topology')).json(); return performance.now() - t; }"
    )
    return ms


def timed_link_events(server: LiveServer, page: Page, ids: list[str], until: str) -> float:
    """Seconds from the first link set down until the page's `until` holds."""
    started = time.perf_counter()
    set_status(server, ids, OperStatus.DOWN)
    page.wait_for_function(until, timeout=600_000, polling=10)
    elapsed = time.perf_counter() - started
    set_status(server, ids, OperStatus.UP)
    return elapsed


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    events = 20 if args.quick else 100
    descriptor = grid()
    with live_server(descriptor, controller=False) as server, chromium() as browser:
        with server.store.read() as repo:
            links = [link for link in repo.links.list() if not link.name.startswith("h")]
        set_status(server, [link.id for link in links], OperStatus.UP)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        renders = [open_ui(page, server.url) for _ in range(3)]
        switches = len(descriptor.devices) - HOSTS
        label = f"{switches} switches, {len(descriptor.links)} links"
        base = report(f"webui first render, {label}: topology fetch only", fetch_ms(page), "ms")
        report(f"webui first render, {label}: load, fetch, layout, draw", min(renders), "ms", base)

        chosen = links[:: max(1, len(links) // events)][:events]
        ids = [link.id for link in chosen]
        open_ui(page, server.url)
        page.evaluate(REFETCH_PER_EVENT)
        baseline = events / timed_link_events(
            server, page, ids, f"window.baselineDone() >= {events}"
        )
        base = report(
            f"webui {events} link events: re-fetch + re-layout per event", baseline, "events/s"
        )
        open_ui(page, server.url)
        every_down = (
            f"{ids!r}.every(id => netweave.graph.cy.getElementById(id).data('status') === 'down')"
        )
        applied = events / timed_link_events(server, page, ids, every_down)
        report(f"webui {events} link events: netweave, event by event", applied, "events/s", base)
        writes = set_status(server, ids, OperStatus.DOWN)
        print(f"(of which the {events} store writes alone: {writes:.2f} s)")


if __name__ == "__main__":
    main()
