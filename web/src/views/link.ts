// A link: its ends, state, capacity and reservation (live).
import { badge, bps, fields, h } from "../dom";
import { keepRendered, type View } from "./context";

export const linkView: View = (panel, context, param) => {
  const { inventory, graph } = context;
  const body = h("div");
  panel.replaceChildren(h("h2", {}, "Link"), body);
  graph.select(param);
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
    graph.select(null);
  };
};
