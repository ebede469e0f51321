// A link: its ends, state, capacity and reservation (live), and its utilisation.
import { badge, bps, fields, h } from "../dom";
import { UTILISATION } from "../kpi";
import { kpiChart } from "./chart";
import { keepRendered, type View } from "./context";

const CHART_REFRESH_MS = 15_000; // the KPI's own period: it is sampled, not evented

export const linkView: View = (panel, context, param) => {
  const { inventory, graph } = context;
  const body = h("div");
  const chart = h("div");
  panel.replaceChildren(h("h2", {}, "Link"), body, chart);
  graph.select(param);
  const name = inventory.links.get(param)?.name;
  const drawChart = (): void => {
    if (name === undefined) return;
    kpiChart(UTILISATION, `link:${name}`, "%", 100).then(
      (node) => chart.replaceChildren(node),
      (error: unknown) => chart.replaceChildren(h("p", { class: "error" }, String(error))),
    );
  };
  drawChart();
  const timer = setInterval(drawChart, CHART_REFRESH_MS);
  const stop = keepRendered(
    context,
    body,
    (c) => c.id === param,
    () => {
      const link = inventory.links.get(param);
      if (link === undefined) return [h("p", { class: "error" }, `no link ${param}`)];
      return [
        fields([
          ["name", link.name],
          ["status", badge(link.status)],
          ["a", inventory.portName(link.a.device_id, link.a.endpoint_id)],
          ["b", inventory.portName(link.b.device_id, link.b.endpoint_id)],
          ["capacity", bps(link.capacity_bps)],
          ["reserved", bps(link.reserved_bps)],
          ["latency", `${link.latency_ms} ms`],
          ["origin", link.origin],
        ]),
      ];
    },
  );
  return () => {
    stop();
    clearInterval(timer);
    graph.select(null);
  };
};
