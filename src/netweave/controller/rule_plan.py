"""Level-triggered rule reconciliation: compare desired rules with what a device holds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netweave.model import ConfigRule, JsonObject, RuleAction, RuleStatus
from netweave.model.ids import rule_id

FOREIGN_OWNER = "foreign"


@dataclass
class RulePlan:
    """What to do on one device to make it hold exactly the desired rules."""

    apply: list[ConfigRule] = field(default_factory=list)
    remove: list[ConfigRule] = field(default_factory=list)
    confirmed: list[ConfigRule] = field(default_factory=list)
    """Already on the device as desired, but not yet marked applied in the store."""

    @property
    def empty(self) -> bool:
        return not (self.apply or self.remove or self.confirmed)

    def owners(self) -> Counter[str]:
        """How many of the plan's rules each owner has."""
        return Counter(rule.owner for rule in (*self.apply, *self.remove, *self.confirmed))


def plan_rules(
    device_id: str,
    desired: Sequence[ConfigRule],
    observed: Mapping[str, JsonObject],
    *,
    foreign: bool = True,
) -> RulePlan:
    """Rules to apply (missing or different), to remove (marked for deletion, or — when
    `desired` is every desired rule of the device, `foreign` — netweave-owned on the
    device but wanted by nobody) and to confirm."""
    plan = RulePlan()
    wanted: set[str] = set()
    for rule in desired:
        wanted.add(rule.key)
        present = rule.key in observed
        if rule.action == RuleAction.DELETE:
            plan.remove.append(rule)
        elif not present or observed[rule.key] != rule.value:
            plan.apply.append(rule)
        elif rule.status != RuleStatus.APPLIED:
            plan.confirmed.append(rule)
    for key, value in observed.items() if foreign else ():
        if key not in wanted:
            plan.remove.append(
                ConfigRule(
                    id=rule_id(FOREIGN_OWNER, device_id, key),
                    owner=FOREIGN_OWNER,
                    device_id=device_id,
                    key=key,
                    value=value,
                    action=RuleAction.DELETE,
                )
            )
    return plan
