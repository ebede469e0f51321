from __future__ import annotations

from netweave.controller.rule_plan import FOREIGN_OWNER, plan_rules
from netweave.model import ConfigRule, RuleAction, RuleStatus


def _rule(key: str, value: int, **kw: object) -> ConfigRule:
    return ConfigRule(id=f"id-{key}", owner="svc", device_id="d", key=key, value={"v": value}, **kw)


def test_missing_and_different_rules_are_applied() -> None:
    plan = plan_rules("d", [_rule("a", 1), _rule("b", 2)], {"b": {"v": 9}})
    assert [r.key for r in plan.apply] == ["a", "b"]
    assert plan.remove == [] and plan.confirmed == []


def test_present_rule_is_confirmed_once() -> None:
    plan = plan_rules("d", [_rule("a", 1)], {"a": {"v": 1}})
    assert [r.key for r in plan.confirmed] == ["a"]
    applied = _rule("a", 1, status=RuleStatus.APPLIED)
    assert plan_rules("d", [applied], {"a": {"v": 1}}).empty


def test_foreign_netweave_rules_are_removed() -> None:
    plan = plan_rules("d", [_rule("a", 1, status=RuleStatus.APPLIED)], {"a": {"v": 1}, "z": {}})
    assert [(r.key, r.owner, r.action) for r in plan.remove] == [
        ("z", FOREIGN_OWNER, RuleAction.DELETE)
    ]


def test_rules_marked_for_deletion_are_removed_even_if_absent() -> None:
    plan = plan_rules("d", [_rule("a", 1, action=RuleAction.DELETE)], {})
    assert [r.key for r in plan.remove] == ["a"] and plan.apply == []
