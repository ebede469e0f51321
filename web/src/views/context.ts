// What every side-panel view gets, and the helper that keeps a view current.
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
