"""TOSCA-style alert specifications (FLAME CLMC): good ones become alarm rules, every
problem of a bad one is reported with its path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from netweave.assurance.alerts_tosca import (
    AlertSpecError,
    alarm_rule_id,
    load_alert_spec,
    parse_alert_spec,
)
from netweave.model import AlarmKind, Comparison

SPEC = """
tosca_definitions_version: tosca_simple_profile_for_nfv_1_0_0
metadata: {sfc: media, sfci: media-1}
topology_template:
  policies:
  - high_util:
      type: eu.ict-flame.policies.Alert
      triggers:
        t1:
          description: a link over 80 %
          event_type: threshold
          metric: link.utilisation
          condition:
            threshold: 80
            granularity: 10
            aggregation_method: p95
            resource_type: {link: s1-s2}
            comparison_operator: gte
          action:
            implementation: [internal, "http://127.0.0.1:9000/alerts"]
        silent:
          event_type: deadman
          metric: port.rx_bytes
          condition: {granularity: 5, resource_type: {device: s1}}
  - throughput_drop:
      type: eu.ict-flame.policies.Alert
      triggers:
        halved:
          event_type: relative
          metric: service.throughput
          condition: {threshold: -50, granularity: 30, comparison_operator: lt}
"""


def good() -> dict[str, Any]:
    spec: dict[str, Any] = load_alert_spec(SPEC)
    return spec


def problems(spec: Any) -> list[str]:
    with pytest.raises(AlertSpecError) as caught:
        parse_alert_spec(spec)
    return str(caught.value).split("; ")


def test_a_flame_specification_becomes_alarm_rules() -> None:
    rules = {rule.name: rule for rule in parse_alert_spec(good())}
    assert set(rules) == {"high_util.t1", "high_util.silent", "throughput_drop.halved"}
    t1 = rules["high_util.t1"]
    assert t1.id == alarm_rule_id("high_util.t1")
    assert (t1.kind, t1.metric, t1.match, t1.aggregation) == (
        AlarmKind.THRESHOLD,
        "link.utilisation",
        {"link": "s1-s2"},
        "p95",
    )
    assert (t1.window_s, t1.comparison, t1.threshold) == (10.0, Comparison.GTE, 80.0)
    assert [str(url) for url in t1.webhooks] == ["http://127.0.0.1:9000/alerts"]
    assert t1.description == "a link over 80 %"
    silent = rules["high_util.silent"]
    assert (silent.kind, silent.window_s, silent.match) == (
        AlarmKind.DEADMAN,
        5.0,
        {"device": "s1"},
    )
    halved = rules["throughput_drop.halved"]
    assert (halved.kind, halved.threshold, halved.comparison) == (
        AlarmKind.RELATIVE,
        -50.0,
        Comparison.LT,
    )


def test_plain_policies_list_is_accepted_too() -> None:
    spec = {"policies": good()["topology_template"]["policies"]}
    assert len(parse_alert_spec(spec)) == 3


def test_every_problem_is_named_by_its_path() -> None:
    spec = good()
    policies = spec["topology_template"]["policies"]
    t1 = policies[0]["high_util"]["triggers"]["t1"]
    t1["condition"]["comparison_operator"] = "above"
    t1["condition"]["granularity"] = -1
    t1["condition"]["aggregation_method"] = "median"
    t1["metric"] = "utilisation"
    t1["action"]["implementation"] = ["ftp://nope"]
    policies[1]["throughput_drop"]["type"] = "eu.ict-flame.policies.StateChange"
    del policies[1]["throughput_drop"]["triggers"]["halved"]["condition"]["threshold"]
    at = "topology_template.policies"
    assert problems(spec) == [
        f"{at}[0].high_util.triggers.t1.metric: must be <measurement>.<field>",
        f"{at}[0].high_util.triggers.t1.condition.granularity: "
        "must be a positive number of seconds",
        f"{at}[0].high_util.triggers.t1.condition.aggregation_method: "
        "must be one of mean, max, min, sum, count, rate or a percentile pN",
        f"{at}[0].high_util.triggers.t1.condition.comparison_operator: must be one of lt, gt, "
        "lte, gte, eq, neq",
        f"{at}[0].high_util.triggers.t1.action.implementation[0]: must be an http(s) URL or "
        "'internal'",
        f"{at}[1].throughput_drop.type: must be eu.ict-flame.policies.Alert",
        f"{at}[1].throughput_drop.triggers.halved.condition.threshold: must be a number",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("just text", "must be a mapping"),
        ({"policies": []}, "policies: must be a non-empty list of {<name>: <policy>}"),
        ({"policies": [{"a": {}, "b": {}}]}, "policies[0]: must have exactly one key"),
        (
            {"policies": [{"p": {"type": "eu.ict-flame.policies.Alert", "triggers": {}}}]},
            "policies[0].p.triggers: must name at least one trigger",
        ),
        (
            {"policies": [{"p q": {"type": "eu.ict-flame.policies.Alert", "triggers": {"t": {}}}}]},
            "policies[0].p q.triggers.t: 'p q.t' is not a valid rule name",
        ),
    ],
)
def test_malformed_documents(spec: Any, message: str) -> None:
    assert problems(copy.deepcopy(spec))[0].startswith(message)


def test_unreadable_text_is_reported() -> None:
    with pytest.raises(AlertSpecError, match="not YAML or JSON"):
        load_alert_spec("policies: [unclosed")
