// A KPI over time as a small SVG line chart, read from the monitoring store.
import { get } from "../api";
import { h } from "../dom";
import type { QueryResult } from "../types";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 400;
const HEIGHT = 90;

/** The last `minutes` of `metric` for the series tagged `tag`, maximum per
 * `step` bucket, drawn against 0..`floor` (or the largest value, if larger). */
export async function kpiChart(
  metric: string,
  tag: string, // key:value
  unit: string,
  floor: number,
  minutes = 15,
): Promise<Node> {
  const start = Math.floor(Date.now() / 1000) - minutes * 60;
  const query = new URLSearchParams({ metric, tag, start: String(start), step: "15s", agg: "max" });
  const result = await get<QueryResult>(`/query?${query}`);
  const series = result.series[0];
  const title = h("h3", {}, `${metric}, last ${minutes} min`);
  if (series === undefined || series.values.length === 0) {
    return h("div", {}, title, h("p", { class: "muted" }, "no samples yet"));
  }
  const top = Math.max(floor, ...series.values);
  const first = start * 1e9;
  const span = Date.now() * 1e6 - first;
  const points = series.timestamps_ns.map((t, i) => [
    ((t - first) / span) * WIDTH,
    HEIGHT - (series.values[i] / top) * HEIGHT,
  ]);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("class", "chart");
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
  svg.append(line);
  for (const [x, y] of points) {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x.toFixed(1));
    dot.setAttribute("cy", y.toFixed(1));
    dot.setAttribute("r", "2");
    svg.append(dot);
  }
  const last = series.values[series.values.length - 1];
  const peak = Math.max(...series.values);
  const summary = `now ${last.toFixed(1)} ${unit}, peak ${peak.toFixed(1)} ${unit}, scale 0–${top.toFixed(0)}`;
  return h("div", {}, title, svg, h("p", { class: "muted" }, summary));
}
