// The live event stream: a snapshot after each (re)connection, then events in order.
import { API } from "./api";
import type { BusEvent } from "./types";

export type LiveState = "connecting" | "live" | "reconnecting";

/** The topics the UI shows (not, e.g., the status of every config rule). */
const TOPICS = ["device", "endpoint", "link", "service", "connection", "alarm", "policy"];

export interface LiveHandlers {
  /** Load the full state; called once the stream is subscribed, on every (re)connection. */
  snapshot: () => Promise<void>;
  event: (event: BusEvent) => void;
  state: (state: LiveState) => void;
}

/**
 * Follow the server's event stream. Events that arrive while a snapshot loads are held
 * and applied after it, in order: each carries its entity's whole state, so replaying one
 * the snapshot already holds is harmless. A `resync` (the client fell behind) reconnects.
 */
export function follow(handlers: LiveHandlers): () => void {
  let source: EventSource | undefined;
  let held: BusEvent[] | null = null;

  const connect = (): void => {
    source?.close();
    source = new EventSource(`${API}/events/stream?topics=${TOPICS.join(",")}`);
    source.addEventListener("ready", () => void resync());
    source.addEventListener("resync", connect);
    source.addEventListener("message", (message) => {
      const event = JSON.parse((message as MessageEvent<string>).data) as BusEvent;
      if (held !== null) held.push(event);
      else handlers.event(event);
    });
    source.addEventListener("error", () => handlers.state("reconnecting"));
  };

  const resync = async (): Promise<void> => {
    held = [];
    try {
      await handlers.snapshot();
      for (const event of held) handlers.event(event);
      handlers.state("live");
    } catch {
      handlers.state("reconnecting");
      setTimeout(connect, 2000);
    } finally {
      held = null;
    }
  };

  handlers.state("connecting");
  connect();
  return () => source?.close();
}
