// Building DOM nodes without HTML strings: text is always set as text.

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined>;

/** An element with attributes (`on<event>` ones become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A status word styled by its value (up/down/active/failed…). */
export const badge = (status: string): HTMLElement =>
  h("span", { class: "badge", "data-status": status }, status);

/** A two-column table of label/value rows. */
export function fields(rows: [string, Child][]): HTMLElement {
  return h(
    "dl",
    { class: "fields" },
    ...rows.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value ?? "—")]),
  );
}

/** A table with a header row; `empty` is shown when there are no rows. */
export function table(headers: string[], rows: Child[][], empty: string): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...headers.map((text) => h("th", {}, text)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((cell) => h("td", {}, cell))))),
  );
}

/** Bits per second in the largest unit that keeps a whole number part. */
export function bps(value: number | null): string {
  if (value === null) return "—";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
  let scaled = value;
  let unit = 0;
  while (scaled >= 1000 && unit < units.length - 1) {
    scaled /= 1000;
    unit += 1;
  }
  return `${Number(scaled.toFixed(2))} ${units[unit]}`;
}
