// Create a service. The API is the validator: each problem it names is shown next to
// the field it is about (or above the button when no field matches).
import { ApiError, post } from "../api";
import { h } from "../dom";
import type { Inventory } from "../state";
import type { Problem, Service } from "../types";
import type { View } from "./context";

interface FieldSpec {
  key: string; // the API's location of the field, dotted: endpoints.0.device
  label: string;
  input: HTMLInputElement | HTMLSelectElement;
}

const text = (key: string, list?: string): HTMLInputElement =>
  h("input", { name: key, id: key, list, autocomplete: "off" });

function select(key: string, options: string[]): HTMLSelectElement {
  return h("select", { name: key, id: key }, ...options.map((o) => h("option", { value: o }, o)));
}

export const serviceForm: View = (panel, context) => {
  const { inventory } = context;
  const devices = h(
    "datalist",
    { id: "device-names" },
    ...deviceNames(inventory).map((n) => h("option", { value: n })),
  );
  const portLists = [0, 1].map((i) => h("datalist", { id: `ports-${i}` }));
  const specs: FieldSpec[] = [
    { key: "name", label: "Name", input: text("name") },
    { key: "type", label: "Type", input: select("type", ["p2p", "l2vpn", "l3vpn"]) },
    ...[0, 1].flatMap((i) => [
      {
        key: `endpoints.${i}.device`,
        label: `Endpoint ${"AB"[i]}: device`,
        input: text(`endpoints.${i}.device`, "device-names"),
      },
      {
        key: `endpoints.${i}.endpoint`,
        label: `Endpoint ${"AB"[i]}: port`,
        input: text(`endpoints.${i}.endpoint`, `ports-${i}`),
      },
    ]),
    {
      key: "constraints.bandwidth_bps",
      label: "Bandwidth (bit/s)",
      input: text("constraints.bandwidth_bps"),
    },
    {
      key: "constraints.max_latency_ms",
      label: "Max latency (ms)",
      input: text("constraints.max_latency_ms"),
    },
    {
      key: "constraints.protection",
      label: "Protection",
      input: select("constraints.protection", ["none", "1+1", "fast-reroute"]),
    },
  ];
  for (const i of [0, 1]) {
    const device = specs.find((s) => s.key === `endpoints.${i}.device`)!.input;
    device.addEventListener("change", () =>
      portLists[i].replaceChildren(
        ...portNames(inventory, device.value).map((n) => h("option", { value: n })),
      ),
    );
  }
  const errors = new Map(
    specs.map((s) => [s.key, h("p", { class: "field-error", "data-for": s.key, role: "alert" })]),
  );
  const formError = h("p", { class: "field-error", "data-for": "", role: "alert" });
  const submit = h("button", { type: "submit" }, "Create");
  const form = h(
    "form",
    { novalidate: true },
    ...specs.map((s) =>
      h("div", { class: "field" }, h("label", { for: s.key }, s.label), s.input, errors.get(s.key)),
    ),
    formError,
    submit,
    devices,
    ...portLists,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const element of [...errors.values(), formError]) element.replaceChildren();
    submit.disabled = true;
    post<Service>("/services", body(specs))
      .then((service) => {
        location.hash = `#/services/${encodeURIComponent(service.name)}`;
      })
      .catch((error: unknown) => {
        const problems =
          error instanceof ApiError ? error.problems : [{ loc: [], msg: String(error) }];
        for (const problem of problems) {
          const key = fieldFor(
            problem,
            specs.map((s) => s.key),
          );
          (key === null ? formError : errors.get(key)!).append(h("span", {}, problem.msg));
        }
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  panel.replaceChildren(h("h2", {}, "New service"), form);
  return () => undefined;
};

/** The request body: numbers where they parse, the raw text otherwise (the API says
 * what is wrong with it), empty optional fields left out. */
function body(specs: FieldSpec[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const { key, input } of specs) {
    const value = input.value.trim();
    if (value === "" && key.startsWith("constraints.")) continue;
    const numeric = key.endsWith("_bps") || key.endsWith("_ms");
    setPath(
      result,
      key.split("."),
      numeric && value !== "" && !Number.isNaN(Number(value)) ? Number(value) : value,
    );
  }
  return result;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> | unknown[] = target;
  path.forEach((part, i) => {
    const last = i === path.length - 1;
    const index = /^\d+$/.test(part) ? Number(part) : part;
    const container = node as Record<string | number, unknown>;
    if (last) container[index] = value;
    else container[index] ??= /^\d+$/.test(path[i + 1]) ? [] : {};
    node = container[index] as Record<string, unknown>;
  });
}

/** The field a problem is about: the same location, else the first field inside it (a
 * problem with all endpoints goes to the first), else the nearest field around it. */
export function fieldFor(problem: Problem, keys: string[]): string | null {
  const loc = (problem.loc[0] === "body" ? problem.loc.slice(1) : problem.loc).join(".");
  if (loc === "") return null;
  if (keys.includes(loc)) return loc;
  const inside = keys.find((key) => key.startsWith(`${loc}.`));
  if (inside !== undefined) return inside;
  const around = keys
    .filter((key) => loc.startsWith(`${key}.`))
    .sort((a, b) => b.length - a.length);
  return around[0] ?? null;
}

function deviceNames(inventory: Inventory): string[] {
  const devices = [...inventory.devices.values()];
  return devices
    .sort(
      (a, b) =>
        Number(a.type !== "host") - Number(b.type !== "host") || a.name.localeCompare(b.name),
    )
    .map((d) => d.name);
}

function portNames(inventory: Inventory, deviceName: string): string[] {
  const device = inventory.device(deviceName);
  if (device === undefined) return [];
  return [...inventory.endpoints.values()]
    .filter((e) => e.device_id === device.id)
    .map((e) => e.name)
    .sort();
}
