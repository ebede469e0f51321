// The client's copy of the inventory: loaded from a snapshot, kept current by bus events.
import type { BusEvent, Connection, Device, Endpoint, Link, Service, Topology } from "./types";

export type Kind = "device" | "endpoint" | "link" | "service" | "connection" | "alarm" | "policy";
/** Kinds whose events are passed on without a copy kept here (views read them anew). */
const UNCACHED = new Set<string>(["alarm", "policy"]);

/** One entity changed (or was `deleted`). */
export type EntityChange = { kind: Kind; id: string; deleted: boolean };
/** What changed: one entity, or everything (`all`, after a snapshot). */
export type Change = { kind: "all" } | EntityChange;

type Listener = (change: Change) => void;

export class Inventory {
  readonly devices = new Map<string, Device>();
  readonly endpoints = new Map<string, Endpoint>();
  readonly links = new Map<string, Link>();
  readonly services = new Map<string, Service>();
  readonly connections = new Map<string, Connection>();
  /** Events applied since the page loaded (for tests and benchmarks). */
  eventsApplied = 0;
  private readonly listeners = new Set<Listener>();

  /** Listen to changes; returns the function that stops listening. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replace everything with a snapshot (connections are fetched per service). */
  replace(topology: Topology, services: Service[]): void {
    fill(this.devices, topology.devices);
    fill(this.endpoints, topology.endpoints);
    fill(this.links, topology.links);
    fill(this.services, services);
    this.emit({ kind: "all" });
  }

  /** Apply one bus event; events of kinds the UI does not show are ignored. */
  apply(event: BusEvent): void {
    const [kind, verb] = event.type.split(".", 2);
    const collection = this.collection(kind);
    if (collection === undefined && !UNCACHED.has(kind)) return;
    const deleted = verb === "deleted";
    if (deleted) collection?.delete(event.entity_id);
    else collection?.set(event.entity_id, event.data as never);
    this.eventsApplied += 1;
    this.emit({ kind: kind as Kind, id: event.entity_id, deleted });
  }

  /** Merge fetched connections of one service (replacing the ones it had); listeners
   * hear one `connection` change with the service's id. */
  setConnections(serviceId: string, connections: Connection[]): void {
    for (const [id, connection] of this.connections) {
      if (connection.service_id === serviceId) this.connections.delete(id);
    }
    for (const connection of connections) this.connections.set(connection.id, connection);
    this.emit({ kind: "connection", id: serviceId, deleted: false }); // one change for all
  }

  /** `device:port` for an endpoint, by names when known. */
  portName(deviceId: string, endpointId: string): string {
    const device = this.devices.get(deviceId)?.name ?? deviceId;
    return `${device}:${this.endpoints.get(endpointId)?.name ?? endpointId}`;
  }

  /** A device by id or name. */
  device(ref: string): Device | undefined {
    return this.devices.get(ref) ?? [...this.devices.values()].find((d) => d.name === ref);
  }

  /** A service by id or name. */
  service(ref: string): Service | undefined {
    return this.services.get(ref) ?? [...this.services.values()].find((s) => s.name === ref);
  }

  private collection(kind: string): Map<string, unknown> | undefined {
    const collections: Record<string, Map<string, unknown>> = {
      device: this.devices,
      endpoint: this.endpoints,
      link: this.links,
      service: this.services,
      connection: this.connections,
    };
    return collections[kind];
  }

  private emit(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }
}

function fill<T extends { id: string }>(map: Map<string, T>, items: T[]): void {
  map.clear();
  for (const item of items) map.set(item.id, item);
}
