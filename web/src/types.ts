// The netweave data model as the REST API returns it (src/netweave/model).

export type OperStatus = "unknown" | "up" | "down";
export type DeviceType = "switch" | "router" | "host" | "compute" | "optical";
export type ServiceStatus = "planned" | "active" | "updating" | "failed" | "removing";

export interface Device {
  id: string;
  name: string;
  type: DeviceType;
  drivers: string[];
  address: string | null;
  status: OperStatus;
  attributes: Record<string, string>;
}

export interface Endpoint {
  id: string;
  name: string;
  device_id: string;
  number: number | null;
  mac: string | null;
  ip: string | null;
  speed_bps: number | null;
  status: OperStatus;
}

export interface EndpointRef {
  device_id: string;
  endpoint_id: string;
}

export interface Link {
  id: string;
  name: string;
  a: EndpointRef;
  b: EndpointRef;
  capacity_bps: number;
  latency_ms: number;
  cost: number;
  status: OperStatus;
  reserved_bps: number;
  origin: "declared" | "discovered";
}

export interface Topology {
  devices: Device[];
  endpoints: Endpoint[];
  links: Link[];
}

export interface Constraints {
  bandwidth_bps: number | null;
  max_latency_ms: number | null;
  max_hops: number | null;
  protection: "none" | "1+1" | "fast-reroute";
}

export interface Service {
  id: string;
  name: string;
  type: "p2p" | "l2vpn" | "l3vpn";
  endpoints: EndpointRef[];
  constraints: Constraints;
  status: ServiceStatus;
  status_reason: string | null;
}

export interface Hop {
  device_id: string;
  ingress_endpoint_id: string;
  egress_endpoint_id: string;
}

export interface Connection {
  id: string;
  name: string;
  service_id: string;
  role: "primary" | "backup";
  hops: Hop[];
  link_ids: string[];
  vlan_id: number | null;
  reserved_bps: number;
}

export interface ConfigRule {
  id: string;
  owner: string;
  device_id: string;
  key: string;
  value: Record<string, unknown>;
  action: "set" | "delete";
  status: "pending" | "applied" | "failed" | "removed";
  error: string | null;
}

/** A bus event: `data` is the entity after the change. */
export interface BusEvent {
  type: string;
  entity_id: string;
  data: Record<string, unknown>;
  time: string;
}

/** One problem of an error response: where (`loc`) and why (`msg`). */
export interface Problem {
  loc: (string | number)[];
  msg: string;
}

export interface Alarm {
  id: string;
  name: string;
  rule_id: string;
  rule_name: string;
  tags: Record<string, string>;
  status: "active" | "cleared";
  value: number | null;
  message: string;
  raised_at: string;
  cleared_at: string | null;
}

export interface Policy {
  id: string;
  name: string;
  description: string;
  trigger: { on: "alarm"; alarm_rule: string } | { on: "event"; event: string; count: number };
  actions: { type: string }[];
  enabled: boolean;
  status: string;
  status_reason: string | null;
}

export interface AuditEntry {
  id: string;
  policy_id: string;
  actor: string;
  action: string;
  target: string;
  trigger: string;
  attempt: number;
  result: "ok" | "retrying" | "failed" | "held_down";
  detail: string;
  time: string;
}

/** What `GET /api/v1/query` answers: aggregated series, bucket times in ns. */
export interface QueryResult {
  metric: string;
  series: { tags: Record<string, string>; timestamps_ns: number[]; values: number[] }[];
}
