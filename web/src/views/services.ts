// Services: the list (live), and one service with its paths drawn on the graph.
import { ApiError, get, ref, remove } from "../api";
import { badge, bps, fields, h, table } from "../dom";
import type { Inventory } from "../state";
import type { Connection, Service } from "../types";
import { keepRendered, type View } from "./context";

const endpointsOf = (inventory: Inventory, service: Service): string =>
  service.endpoints.map((e) => inventory.portName(e.device_id, e.endpoint_id)).join(" ↔ ");

export const serviceList: View = (panel, context) => {
  const { inventory } = context;
  const body = h("div");
  panel.replaceChildren(
    h("h2", {}, "Services ", h("a", { href: "#/services/new", class: "button" }, "New")),
    body,
  );
  return keepRendered(
    context,
    body,
    (c) => c.kind === "service",
    () => [
      table(
        ["name", "type", "status", "endpoints", "bandwidth"],
        [...inventory.services.values()]
          .sort((x, y) => x.name.localeCompare(y.name))
          .map((s) => [
            h("a", { href: `#/services/${ref(s.name)}` }, s.name),
            s.type,
            badge(s.status),
            endpointsOf(inventory, s),
            bps(s.constraints.bandwidth_bps),
          ]),
        "no services yet",
      ),
    ],
  );
};

export const serviceDetail: View = (panel, context, param) => {
  const { inventory, graph } = context;
  const service = inventory.service(param);
  if (service === undefined) {
    panel.replaceChildren(
      h("h2", {}, param),
      h("p", { class: "error" }, `no service named ${param}`),
    );
    return () => undefined;
  }
  const id = service.id;
  const body = h("div");
  const problems = h("p", { class: "error", role: "alert" });
  const removeButton = h(
    "button",
    { type: "button", class: "danger", onclick: () => void deleteService(service.name, problems) },
    "Delete",
  );
  panel.replaceChildren(h("h2", {}, `service ${service.name}`), body, removeButton, problems);
  void get<Connection[]>(`/services/${ref(id)}/connections`).then(
    (connections) => inventory.setConnections(id, connections),
    (error: unknown) => problems.replaceChildren(String(error)),
  );
  const stop = keepRendered(
    context,
    body,
    (c) => c.id === id || c.kind === "connection" || c.kind === "link",
    () => {
      const now = inventory.services.get(id);
      const connections = [...inventory.connections.values()]
        .filter((c) => c.service_id === id)
        .sort((x, y) => Number(x.role !== "primary") - Number(y.role !== "primary"));
      graph.highlight(now === undefined ? [] : connections);
      if (now === undefined) return [h("p", { class: "muted" }, "this service was deleted")];
      return [
        fields([
          ["status", badge(now.status)],
          ["reason", now.status_reason],
          ["type", now.type],
          ["endpoints", endpointsOf(inventory, now)],
          ["bandwidth", bps(now.constraints.bandwidth_bps)],
          ["protection", now.constraints.protection],
        ]),
        h("h3", {}, "Paths"),
        table(
          ["role", "path", "links", "VLAN"],
          connections.map((c) => [
            h("span", { class: `role ${c.role}` }, c.role),
            c.hops
              .map((hop) => inventory.devices.get(hop.device_id)?.name ?? hop.device_id)
              .join(" → "),
            pathState(inventory, c),
            c.vlan_id,
          ]),
          "no path (yet)",
        ),
      ];
    },
  );
  return () => {
    stop();
    graph.highlight([]);
  };
};

function pathState(inventory: Inventory, connection: Connection): HTMLElement {
  const down = connection.link_ids.filter((id) => inventory.links.get(id)?.status === "down");
  return down.length === 0
    ? badge("up")
    : h("span", {}, badge("down"), ` ${down.length} of ${connection.link_ids.length}`);
}

async function deleteService(name: string, problems: HTMLElement): Promise<void> {
  try {
    await remove(`/services/${ref(name)}`);
  } catch (error) {
    problems.replaceChildren(error instanceof ApiError ? error.message : String(error));
  }
}
