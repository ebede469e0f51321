// The netweave web UI: a live topology graph beside a panel routed by the URL's hash.
import { get } from "./api";
import { TopologyGraph } from "./graph";
import { showUtilisation } from "./kpi";
import { follow } from "./live";
import { Inventory } from "./state";
import "./style.css";
import type { Service, Topology } from "./types";
import { alarmsView, policiesView } from "./views/assurance";
import type { Context, View } from "./views/context";
import { deviceView } from "./views/device";
import { linkView } from "./views/link";
import { overview } from "./views/overview";
import { serviceForm } from "./views/serviceForm";
import { serviceDetail, serviceList } from "./views/services";

const ROUTES: [RegExp, View][] = [
  [/^#\/alarms$/, alarmsView],
  [/^#\/policies$/, policiesView],
  [/^#\/devices\/(.+)$/, deviceView],
  [/^#\/links\/(.+)$/, linkView],
  [/^#\/services\/new$/, serviceForm],
  [/^#\/services\/(.+)$/, serviceDetail],
  [/^#\/services$/, serviceList],
];

const inventory = new Inventory();
const graph = new TopologyGraph(document.getElementById("graph")!, inventory, (pick) => {
  location.hash =
    pick.kind === "device"
      ? `#/devices/${encodeURIComponent(inventory.devices.get(pick.id)?.name ?? pick.id)}`
      : `#/links/${pick.id}`;
});
const context: Context = { inventory, graph };
const panel = document.getElementById("panel")!;
const live = document.getElementById("live")!;
let leave = (): void => undefined;
let loaded = false;

function route(): void {
  leave();
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(location.hash);
    if (match !== null) {
      leave = view(panel, context, decodeURIComponent(match[1] ?? ""));
      return;
    }
  }
  leave = overview(panel, context, "");
}

window.addEventListener("hashchange", route);
follow({
  snapshot: async () => {
    const [topology, services] = await Promise.all([
      get<Topology>("/topology"),
      get<Service[]>("/services"),
    ]);
    inventory.replace(topology, services);
    if (!loaded) {
      loaded = true;
      route();
      showUtilisation(graph, inventory);
    }
  },
  event: (event) => inventory.apply(event),
  state: (state) => {
    live.dataset.state = state;
    live.textContent = state;
  },
});

// For tests and benchmarks: the graph and the inventory the page shows.
Object.assign(window, { netweave: { graph, inventory } });
