// The default panel: what the graph shows, counted, and its legend.
import { badge, h, table } from "../dom";
import type { OperStatus } from "../types";
import { keepRendered, type View } from "./context";

function countBy<T>(items: Iterable<T>, key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts.entries()].sort();
}

export const overview: View = (panel, context) => {
  const { inventory } = context;
  const body = h("div");
  panel.replaceChildren(h("h2", {}, "Topology"), body);
  return keepRendered(
    context,
    body,
    (c) => c.kind !== "connection",
    () => [
      table(
        ["", "count", "by state"],
        [
          [
            "devices",
            inventory.devices.size,
            states(countBy(inventory.devices.values(), (d) => d.status)),
          ],
          [
            "links",
            inventory.links.size,
            states(countBy(inventory.links.values(), (l) => l.status)),
          ],
          [
            "services",
            inventory.services.size,
            states(countBy(inventory.services.values(), (s) => s.status)),
          ],
        ],
        "",
      ),
      h(
        "p",
        { class: "muted" },
        "Links are coloured by state: ",
        ...(["up", "down", "unknown"] as OperStatus[]).flatMap((s) => [badge(s), " "]),
        "; wider, then amber and orange past 50% and 80% utilisation. Click a device or a link for its details; a service's paths are drawn on the graph.",
      ),
    ],
  );
};

function states(counts: [string, number][]): HTMLElement {
  return h("span", {}, ...counts.flatMap(([state, n]) => [badge(state), ` ${n} `]));
}
