// What every side-panel view gets, and the helper that keeps a view current.
import { h } from "../dom";
import type { TopologyGraph } from "../graph";
import type { EntityChange, Inventory } from "../state";

export interface Context {
  inventory: Inventory;
  graph: TopologyGraph;
}

/** A view fills the panel for one route parameter; it returns its clean-up. */
export type View = (panel: HTMLElement, context: Context, param: string) => () => void;

/**
 * Render `into` now and again (at most once per frame) after each change that
 * `relevant` accepts; returns the function that stops it.
 */
export function keepRendered(
  context: Context,
  into: HTMLElement,
  relevant: (change: EntityChange) => boolean,
  render: () => Node[],
): () => void {
  let frame: number | null = null;
  const draw = (): void => {
    frame = null;
    into.replaceChildren(...render());
  };
  draw();
  const stop = context.inventory.on((change) => {
    if (frame !== null || !(change.kind === "all" || relevant(change))) return;
    frame = requestAnimationFrame(draw);
  });
  return () => {
    stop();
    if (frame !== null) cancelAnimationFrame(frame);
  };
}

/**
 * Fill `into` with what `load` reads now, and again after each change `relevant`
 * accepts (one read at a time; changes during a read cause one more).
 */
export function keepLoaded(
  context: Context,
  into: HTMLElement,
  relevant: (change: EntityChange) => boolean,
  load: () => Promise<Node[]>,
): () => void {
  let loading = false;
  let dirty = false;
  let stopped = false;
  const read = async (): Promise<void> => {
    loading = true;
    dirty = false;
    try {
      const nodes = await load();
      if (!stopped) into.replaceChildren(...nodes);
    } catch (error) {
      if (!stopped) into.replaceChildren(h("p", { class: "error" }, String(error)));
    }
    loading = false;
    if (dirty && !stopped) void read();
  };
  void read();
  const stop = context.inventory.on((change) => {
    if (!(change.kind === "all" || relevant(change))) return;
    if (loading) dirty = true;
    else void read();
  });
  return () => {
    stopped = true;
    stop();
  };
}
