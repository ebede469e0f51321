"""Managing alarm rules, alarms, policies and the audit trail: the business layer behind
the assurance routes of the API. Errors are inventory errors (404, 409, 422, 503) naming
the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from netweave.assurance.alerts_tosca import AlertSpecError, alarm_rule_id, parse_alert_spec
from netweave.assurance.query import percentile_of
from netweave.inventory import Busy, Conflict, Invalid, NotFound, Problem
from netweave.inventory.checks import add_unique
from netweave.model import (
    Alarm,
    AlarmRule,
    AlarmRuleSpec,
    AlarmState,
    AuditEntry,
    Policy,
    PolicySpec,
    PolicyState,
)
from netweave.model.ids import device_id, is_id, make_id, service_id
from netweave.policy.validation import find_alarm_rule, validate_policy
from netweave.store import ConflictError, Repository, Store, TransientError

T = TypeVar("T")


def policy_id(name: str) -> str:
    return make_id("policy", name)


class Assurance:
    """Alarm rules (also from TOSCA alert specifications), alarms, policies, audit."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _write(self, work: Callable[[Repository], T]) -> T:
        try:
            return self._store.run(work)
        except ConflictError as exc:
            raise Conflict(exc.field or "name", exc.message) from exc
        except TransientError as exc:
            raise Busy("", "too many concurrent writes to the same entities; retry") from exc

    # -- alarm rules and alarms --------------------------------------------------------

    def list_alarm_rules(self) -> list[AlarmRule]:
        with self._store.read() as repo:
            return repo.alarm_rules.list()

    def get_alarm_rule(self, ref: str) -> AlarmRule:
        with self._store.read() as repo:
            return _alarm_rule(repo, ref)

    def create_alarm_rule(self, spec: AlarmRuleSpec) -> AlarmRule:
        try:
            percentile_of(spec.aggregation)
        except ValueError as error:
            raise Invalid("aggregation", str(error)) from None
        rule = AlarmRule(id=alarm_rule_id(spec.name), **spec.model_dump())
        return self._write(lambda repo: add_unique(repo.alarm_rules, rule))

    def delete_alarm_rule(self, ref: str) -> None:
        self._write(lambda repo: repo.alarm_rules.delete(_alarm_rule(repo, ref).id))

    def apply_alert_spec(self, spec: Any) -> list[AlarmRule]:
        """Store the rules of a TOSCA alert specification, replacing rules of the same name."""
        try:
            rules = parse_alert_spec(spec)
        except AlertSpecError as error:
            raise Invalid.of([Problem(loc, msg) for loc, msg in error.problems]) from None

        def upsert(repo: Repository) -> list[AlarmRule]:
            return [
                repo.alarm_rules.update(rule)
                if repo.alarm_rules.find(rule.id)
                else repo.alarm_rules.add(rule)
                for rule in rules
            ]

        return self._write(upsert)

    def list_alarms(
        self, status: AlarmState | None = None, limit: int | None = None
    ) -> list[Alarm]:
        """Alarms (active and cleared, or those of `status`), newest first, at most `limit`."""
        with self._store.read() as repo:
            alarms = repo.alarms.list()
        found = [a for a in alarms if status is None or a.status is status]
        return sorted(found, key=lambda a: a.raised_at, reverse=True)[:limit]

    # -- policies and audit --------------------------------------------------------------

    def list_policies(self) -> list[Policy]:
        with self._store.read() as repo:
            return repo.policies.list()

    def get_policy(self, ref: str) -> Policy:
        with self._store.read() as repo:
            return _policy(repo, ref)

    def create_policy(self, spec: PolicySpec) -> Policy:
        """Store a policy as ``inserted`` (the engine takes it on); its references are
        checked now, so a bad one is a 422 naming the field."""

        def create(repo: Repository) -> Policy:
            return add_unique(repo.policies, _checked(repo, policy_id(spec.name), spec))

        return self._write(create)

    def replace_policy(self, ref: str, spec: PolicySpec) -> Policy:
        """Replace a policy's definition; it starts over as ``inserted``."""

        def replace(repo: Repository) -> Policy:
            return repo.policies.update(_checked(repo, _policy(repo, ref).id, spec))

        return self._write(replace)

    def set_enabled(self, ref: str, enabled: bool) -> Policy:
        def switch(repo: Repository) -> Policy:
            policy = _policy(repo, ref)
            status = PolicyState.INSERTED if enabled else PolicyState.DISABLED
            if policy.enabled == enabled:
                return policy
            changed = {"enabled": enabled, "status": status, "status_reason": None}
            return repo.policies.update(policy.model_copy(update=changed))

        return self._write(switch)

    def delete_policy(self, ref: str) -> None:
        self._write(lambda repo: repo.policies.delete(_policy(repo, ref).id))

    def audit(self, policy: str | None = None) -> list[AuditEntry]:
        """Audit entries (of one policy, if given), oldest first."""
        with self._store.read() as repo:
            scope = None if policy is None else _policy(repo, policy).id
            return repo.audit.list(scope)


def _alarm_rule(repo: Repository, ref: str) -> AlarmRule:
    rule = find_alarm_rule(repo, ref)
    if rule is None:
        raise NotFound("alarm_rule", f"no alarm rule {ref!r}")
    return rule


def _policy(repo: Repository, ref: str) -> Policy:
    policy = repo.policies.find(ref) or repo.policies.find_by_name(ref)
    if policy is None:
        raise NotFound("policy", f"no policy {ref!r}")
    return policy


def _checked(repo: Repository, new_id: str, spec: PolicySpec) -> Policy:
    """The policy of `spec` (services and devices given by name resolved to ids), its
    references checked."""
    services = [ref if is_id(ref) else service_id(ref) for ref in spec.services]
    devices = [ref if is_id(ref) else device_id(ref) for ref in spec.devices]
    fields = spec.model_dump() | {"services": services, "devices": devices}
    policy = Policy(id=new_id, status=PolicyState.INSERTED, **fields)
    problem, _ = validate_policy(repo, policy)
    if problem is not None:
        field, index = problem.loc[0], problem.loc[-1]
        if field in ("services", "devices") and isinstance(index, int):
            given = getattr(spec, str(field))[index]
            problem = Problem(problem.loc, f"no {str(field)[:-1]} {given!r}")
        raise Invalid.of([problem])
    if not policy.enabled:
        policy.status = PolicyState.DISABLED
    return policy
