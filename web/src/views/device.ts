// A device: its fields, ports (live) and configuration rules (read on opening).
import { ApiError, get, ref } from "../api";
import { badge, bps, fields, h, table } from "../dom";
import type { ConfigRule, Endpoint } from "../types";
import { keepRendered, type View } from "./context";

const RULES_SHOWN = 200;

export const deviceView: View = (panel, context, param) => {
  const { inventory, graph } = context;
  const device = inventory.device(param);
  if (device === undefined) {
    panel.replaceChildren(
      h("h2", {}, param),
      h("p", { class: "error" }, `no device named ${param}`),
    );
    return () => undefined;
  }
  graph.select(device.id);
  graph.focus(device.id);
  const details = h("div");
  const rules = h("div", {}, h("p", { class: "muted" }, "loading rules…"));
  panel.replaceChildren(
    h("h2", {}, `${device.type} ${device.name}`),
    details,
    h("h3", {}, "Configuration rules"),
    rules,
  );
  void loadRules(device.id, rules);
  const peers = (port: Endpoint): string => {
    for (const link of inventory.links.values()) {
      if (link.a.endpoint_id === port.id)
        return inventory.portName(link.b.device_id, link.b.endpoint_id);
      if (link.b.endpoint_id === port.id)
        return inventory.portName(link.a.device_id, link.a.endpoint_id);
    }
    return "";
  };
  const stop = keepRendered(
    context,
    details,
    (c) => c.id === device.id || c.kind === "endpoint" || c.kind === "link",
    () => {
      const now = inventory.devices.get(device.id);
      if (now === undefined) return [h("p", { class: "error" }, "this device was deleted")];
      const ports = [...inventory.endpoints.values()]
        .filter((e) => e.device_id === device.id)
        .sort((x, y) => (x.number ?? 0) - (y.number ?? 0) || x.name.localeCompare(y.name));
      return [
        fields([
          ["status", badge(now.status)],
          ["drivers", now.drivers.join(", ")],
          ["address", now.address],
          ...Object.entries(now.attributes).map(([key, value]): [string, string] => [key, value]),
        ]),
        h("h3", {}, `Ports (${ports.length})`),
        table(
          ["name", "no.", "status", "speed", "address", "peer"],
          ports.map((p) => [
            p.name,
            p.number,
            badge(p.status),
            bps(p.speed_bps),
            p.ip ?? p.mac,
            peers(p),
          ]),
          "no ports",
        ),
      ];
    },
  );
  return () => {
    stop();
    graph.select(null);
  };
};

async function loadRules(deviceId: string, into: HTMLElement): Promise<void> {
  try {
    const rules = await get<ConfigRule[]>(`/devices/${ref(deviceId)}/rules?limit=${RULES_SHOWN}`);
    into.replaceChildren(
      table(
        ["key", "owner", "action", "status"],
        rules.map((r) => [
          h("code", {}, r.key),
          r.owner,
          r.action,
          r.error ? h("span", { title: r.error }, badge(r.status)) : badge(r.status),
        ]),
        "no rules",
      ),
      rules.length === RULES_SHOWN
        ? h("p", { class: "muted" }, `the first ${RULES_SHOWN} rules`)
        : "",
    );
  } catch (error) {
    into.replaceChildren(
      h("p", { class: "error" }, error instanceof ApiError ? error.message : String(error)),
    );
  }
}
