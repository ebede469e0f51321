"""Alarm rules from a TOSCA-style alert specification, as the FLAME CLMC accepted them::

    policies:                       # or topology_template: {policies: [...]}
    - high_util:
        type: eu.ict-flame.policies.Alert
        triggers:
          t1:
            description: link over 80 %
            event_type: threshold   # threshold | relative | deadman
            metric: link.utilisation            # <measurement>.<field>
            condition:
              threshold: 80
              granularity: 10                   # window, seconds
              aggregation_method: mean          # mean max min sum count rate pNN
              resource_type: {link: s1-s2}      # tag filter
              comparison_operator: gt           # lt gt lte gte eq neq
            action:
              implementation: [internal, "http://hooks.example/alerts"]

Each trigger becomes an `AlarmRule` named ``<policy>.<trigger>``. Every problem is
reported with its path (``policies[0].high_util.triggers.t1.condition.threshold``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import yaml
from pydantic import AnyHttpUrl, TypeAdapter, ValidationError

from netweave.assurance.query import AGGREGATIONS, percentile_of
from netweave.model import AlarmKind, AlarmRule, Comparison
from netweave.model.common import NAME_PATTERN
from netweave.model.ids import make_id

ALERT_TYPE = "eu.ict-flame.policies.Alert"
INTERNAL = "internal"
Loc = tuple[str | int, ...]
_URL = TypeAdapter(AnyHttpUrl)
C = TypeVar("C", AlarmKind, Comparison)


class AlertSpecError(ValueError):
    """The specification is wrong; `problems` lists (location, reason) pairs."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems
        super().__init__(
            "; ".join(f"{_dotted(loc)}: {msg}" if loc else msg for loc, msg in problems)
        )


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def alarm_rule_id(name: str) -> str:
    return make_id("alarm-rule", name)


def load_alert_spec(text: str) -> Any:
    """A specification document (YAML or JSON) as plain data."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise AlertSpecError([((), f"not YAML or JSON: {error}")]) from None


def parse_alert_spec(spec: Any) -> list[AlarmRule]:
    """The alarm rules of a parsed specification; `AlertSpecError` listing every problem."""
    parser = _Parser()
    rules = parser.document(spec)
    if parser.problems:
        raise AlertSpecError(parser.problems)
    return rules


class _Parser:
    def __init__(self) -> None:
        self.problems: list[tuple[Loc, str]] = []

    def fail(self, loc: Loc, msg: str) -> None:
        self.problems.append((loc, msg))

    def mapping(self, value: Any, loc: Loc) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(loc, "must be a mapping")
        return None

    def document(self, spec: Any) -> list[AlarmRule]:
        root = self.mapping(spec, ())
        if root is None:
            return []
        loc: Loc = ("policies",)
        policies = root.get("policies")
        if policies is None and isinstance(root.get("topology_template"), Mapping):
            loc = ("topology_template", "policies")
            policies = root["topology_template"].get("policies")
        if not isinstance(policies, list) or not policies:
            self.fail(loc, "must be a non-empty list of {<name>: <policy>}")
            return []
        rules: list[AlarmRule] = []
        for index, entry in enumerate(policies):
            named = self.mapping(entry, (*loc, index))
            if named is None:
                continue
            if len(named) != 1:
                self.fail((*loc, index), "must have exactly one key, the policy's name")
                continue
            ((name, policy),) = named.items()
            rules += self.policy(str(name), policy, (*loc, index, str(name)))
        return rules

    def policy(self, name: str, policy: Any, loc: Loc) -> list[AlarmRule]:
        body = self.mapping(policy, loc)
        if body is None:
            return []
        if body.get("type") != ALERT_TYPE:
            self.fail((*loc, "type"), f"must be {ALERT_TYPE}")
        triggers = self.mapping(body.get("triggers"), (*loc, "triggers"))
        if triggers is None:
            return []
        if not triggers:
            self.fail((*loc, "triggers"), "must name at least one trigger")
        found = [
            self.trigger(f"{name}.{trigger}", spec, (*loc, "triggers", str(trigger)))
            for trigger, spec in triggers.items()
        ]
        return [rule for rule in found if rule is not None]

    def trigger(self, name: str, spec: Any, loc: Loc) -> AlarmRule | None:
        body = self.mapping(spec, loc)
        if body is None:
            return None
        before = len(self.problems)
        if not NAME_PATTERN.match(name):
            self.fail(loc, f"{name!r} is not a valid rule name (letters, digits, . _ : @ / -)")
        kind = self.choice(body.get("event_type"), (*loc, "event_type"), AlarmKind)
        metric = body.get("metric")
        if not isinstance(metric, str) or "." not in metric.strip(".") or " " in metric:
            self.fail((*loc, "metric"), "must be <measurement>.<field>")
        condition = self.mapping(body.get("condition"), (*loc, "condition")) or {}
        where: Loc = (*loc, "condition")
        deadman = kind is AlarmKind.DEADMAN
        threshold = self.number(condition.get("threshold"), (*where, "threshold"), deadman)
        window = self.number(condition.get("granularity"), (*where, "granularity"), False)
        if window is not None and window <= 0:
            self.fail((*where, "granularity"), "must be a positive number of seconds")
        aggregation = condition.get("aggregation_method", "mean")
        try:
            percentile_of(aggregation if isinstance(aggregation, str) else "")
        except ValueError:
            named = ", ".join(AGGREGATIONS)
            self.fail((*where, "aggregation_method"), f"must be one of {named} or a percentile pN")
        tags = self.tags(condition.get("resource_type", {}), (*where, "resource_type"))
        operator = condition.get("comparison_operator")
        comparison = (
            Comparison.GT
            if deadman and operator is None
            else self.choice(operator, (*where, "comparison_operator"), Comparison)
        )
        hooks = self.webhooks(body.get("action", {}), (*loc, "action"))
        if len(self.problems) > before:
            return None
        assert kind is not None and comparison is not None and window is not None
        return AlarmRule(
            id=alarm_rule_id(name),
            name=name,
            kind=kind,
            metric=str(metric),
            match=tags,
            aggregation=str(aggregation),
            window_s=window,
            comparison=comparison,
            threshold=threshold or 0.0,
            webhooks=hooks,
            description=str(body.get("description", "")),
        )

    def choice(self, value: Any, loc: Loc, kind: type[C]) -> C | None:
        try:
            return kind(value)
        except ValueError:
            self.fail(loc, f"must be one of {', '.join(k.value for k in kind)}")
            return None

    def number(self, value: Any, loc: Loc, optional: bool) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(loc, "must be a number")
            return None
        return float(value)

    def tags(self, value: Any, loc: Loc) -> dict[str, str]:
        body = self.mapping(value, loc)
        if body is None:
            return {}
        tags = {str(k): str(v) for k, v in body.items()}
        for key, tag in tags.items():
            if not key or not tag or isinstance(body[key], Mapping | list):
                self.fail((*loc, key), "must be a non-empty tag value")
        return tags

    def webhooks(self, value: Any, loc: Loc) -> list[AnyHttpUrl]:
        body = self.mapping(value, loc)
        if body is None:
            return []
        targets = body.get("implementation", [INTERNAL])
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list):
            self.fail((*loc, "implementation"), "must be a list of webhook URLs or 'internal'")
            return []
        hooks = []
        for index, target in enumerate(targets):
            if target == INTERNAL:
                continue
            try:
                hooks.append(_URL.validate_python(target))
            except ValidationError:
                self.fail((*loc, "implementation", index), "must be an http(s) URL or 'internal'")
        return hooks
