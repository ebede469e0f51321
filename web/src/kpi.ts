// Link utilisation on the graph: the monitoring store's `link.utilisation` KPI (percent
// of capacity, the busier direction), read once per sampling period.
import { get } from "./api";
import type { TopologyGraph } from "./graph";
import type { Inventory } from "./state";
import type { QueryResult } from "./types";

export const UTILISATION = "link.utilisation";
const PERIOD_S = 15; // a sampled KPI, not an event: read at the rate it is written
const WINDOW_S = 30;

/** The latest utilisation (the maximum over the last window) of each link, by link id. */
export async function readUtilisation(inventory: Inventory): Promise<Map<string, number>> {
  const start = String(Math.floor(Date.now() / 1000) - WINDOW_S);
  const query = new URLSearchParams({
    metric: UTILISATION,
    start,
    step: `${WINDOW_S}s`,
    agg: "max",
  });
  query.append("group_by", "link");
  const result = await get<QueryResult>(`/query?${query}`);
  const ids = new Map([...inventory.links.values()].map((link) => [link.name, link.id]));
  const utilisation = new Map<string, number>();
  for (const series of result.series) {
    const id = ids.get(series.tags.link);
    if (id !== undefined && series.values.length > 0) {
      utilisation.set(id, Math.max(...series.values));
    }
  }
  return utilisation;
}

/** Show utilisation on the graph now and once per period; returns the stop function. */
export function showUtilisation(graph: TopologyGraph, inventory: Inventory): () => void {
  const update = (): void => {
    readUtilisation(inventory).then(
      (utilisation) => graph.showUtilisation(utilisation),
      () => undefined, // no monitoring store answer: the graph keeps showing state only
    );
  };
  update();
  const timer = setInterval(update, PERIOD_S * 1000);
  return () => clearInterval(timer);
}
