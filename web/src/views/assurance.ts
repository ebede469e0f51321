// Alarms, and the policies with their audit trail: read anew on each of their events.
import { get } from "../api";
import { badge, h, table } from "../dom";
import type { Alarm, AuditEntry, Policy } from "../types";
import { keepLoaded, type View } from "./context";

const AUDIT_SHOWN = 100;
const when = (iso: string | null): string => (iso === null ? "" : new Date(iso).toLocaleString());
const tags = (values: Record<string, string>): string =>
  Object.entries(values)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");

export const alarmsView: View = (panel, context) => {
  const body = h("div");
  panel.replaceChildren(h("h2", {}, "Alarms"), body);
  return keepLoaded(
    context,
    body,
    (c) => c.kind === "alarm",
    async () => {
      const alarms = await get<Alarm[]>("/alarms");
      const row = (a: Alarm) => [
        a.rule_name,
        tags(a.tags),
        badge(a.status),
        a.value?.toFixed(2),
        a.message,
        when(a.raised_at),
        when(a.cleared_at),
      ];
      const headers = ["rule", "on", "state", "value", "message", "raised", "cleared"];
      const active = alarms.filter((a) => a.status === "active");
      return [
        h("h3", {}, `Active (${active.length})`),
        table(headers, active.map(row), "no active alarm"),
        h("h3", {}, "Cleared"),
        table(headers, alarms.filter((a) => a.status !== "active").map(row), "none"),
      ];
    },
  );
};

export const policiesView: View = (panel, context) => {
  const body = h("div");
  panel.replaceChildren(h("h2", {}, "Policies"), body);
  return keepLoaded(
    context,
    body,
    (c) => c.kind === "policy",
    async () => {
      const [policies, audit] = await Promise.all([
        get<Policy[]>("/policies"),
        get<AuditEntry[]>("/audit"),
      ]);
      const names = new Map(policies.map((p) => [p.id, p.name]));
      return [
        table(
          ["name", "state", "when", "then"],
          policies.map((p) => [
            h("span", { title: p.description }, p.name),
            h("span", { title: p.status_reason ?? "" }, badge(p.enabled ? p.status : "disabled")),
            p.trigger.on === "alarm" ? `alarm ${p.trigger.alarm_rule}` : `event ${p.trigger.event}`,
            p.actions.map((a) => a.type).join(", "),
          ]),
          "no policies",
        ),
        h("h3", {}, "Audit"),
        table(
          ["time", "policy", "action", "target", "result", "detail"],
          audit
            .slice(-AUDIT_SHOWN)
            .reverse()
            .map((e) => [
              when(e.time),
              names.get(e.policy_id) ?? e.actor,
              e.attempt > 1 ? `${e.action} (try ${e.attempt})` : e.action,
              e.target,
              badge(e.result),
              e.detail,
            ]),
          "nothing done yet",
        ),
      ];
    },
  );
};
