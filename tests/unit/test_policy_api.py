"""The assurance routes: alarm rules, TOSCA alert specifications, alarms, policies and
audit; bad input is a 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netweave.api import create_app
from netweave.bus import InProcessBus
from netweave.model import Alarm, AlarmState
from netweave.store import Store

V1 = "/api/v1"
YAML = {"content-type": "application/yaml"}
RULE = {"name": "hot", "metric": "link.utilisation", "threshold": 80, "window_s": 5}
ALERTS = """
policies:
- high_util:
    type: eu.ict-flame.policies.Alert
    triggers:
      t1:
        event_type: threshold
        metric: link.utilisation
        condition: {threshold: 80, granularity: 10, aggregation_method: mean,
                    comparison_operator: gt}
"""
CONGESTION = {
    "name": "congestion",
    "trigger": {"on": "alarm", "alarm_rule": "hot"},
    "actions": [{"type": "reroute_avoiding"}],
    "hold_down_s": 10,
}


@pytest.fixture
def client(store: Store, bus: InProcessBus) -> Iterator[TestClient]:
    with TestClient(create_app(store, bus)) as test_client:
        yield test_client


def detail(response: Any, status: int) -> list[tuple[list[Any], str]]:
    assert response.status_code == status, response.text
    return [(item["loc"], item["msg"]) for item in response.json()["detail"]]


def test_alarm_rules_crud(client: TestClient) -> None:
    created = client.post(f"{V1}/alarm-rules", json=RULE)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "threshold" and created.json()["comparison"] == "gt"
    assert [r["name"] for r in client.get(f"{V1}/alarm-rules").json()] == ["hot"]
    assert client.get(f"{V1}/alarm-rules/hot").json()["id"] == created.json()["id"]
    assert detail(client.post(f"{V1}/alarm-rules", json=RULE), 409)[0][0] == ["name"]
    assert client.delete(f"{V1}/alarm-rules/hot").status_code == 204
    assert detail(client.get(f"{V1}/alarm-rules/hot"), 404) == [
        (["alarm_rule"], "no alarm rule 'hot'")
    ]


def test_bad_alarm_rules_name_the_field(client: TestClient) -> None:
    bad_aggregation = client.post(f"{V1}/alarm-rules", json=RULE | {"aggregation": "median"})
    [(loc, msg)] = detail(bad_aggregation, 422)
    assert loc == ["aggregation"] and msg.startswith("'median' is not one of mean")
    bad_operator = client.post(f"{V1}/alarm-rules", json=RULE | {"comparison": "above"})
    assert detail(bad_operator, 422)[0][0] == ["body", "comparison"]
    bad_window = client.post(f"{V1}/alarm-rules", json=RULE | {"window_s": 0})
    assert detail(bad_window, 422)[0][0] == ["body", "window_s"]


def test_alert_specifications_in_yaml_and_json(client: TestClient) -> None:
    created = client.post(f"{V1}/alerts", content=ALERTS, headers=YAML)
    assert created.status_code == 201, created.text
    assert [r["name"] for r in created.json()] == ["high_util.t1"]
    again = client.post(f"{V1}/alerts", content=ALERTS.replace("80", "90"), headers=YAML)
    assert again.status_code == 201 and again.json()[0]["threshold"] == 90  # replaced
    assert len(client.get(f"{V1}/alarm-rules").json()) == 1
    bad = ALERTS.replace("comparison_operator: gt", "comparison_operator: above")
    assert detail(client.post(f"{V1}/alerts", content=bad, headers=YAML), 422) == [
        (
            ["policies", 0, "high_util", "triggers", "t1", "condition", "comparison_operator"],
            "must be one of lt, gt, lte, gte, eq, neq",
        )
    ]
    as_json = client.post(f"{V1}/alerts", json={"policies": "none"})
    assert detail(as_json, 422)[0][0] == ["policies"]
    unreadable = client.post(f"{V1}/alerts", content="policies: [", headers=YAML)
    assert detail(unreadable, 422)[0][0] == ["body"]


def test_policies_crud_and_audit(client: TestClient) -> None:
    assert client.post(f"{V1}/alarm-rules", json=RULE).status_code == 201
    created = client.post(f"{V1}/policies", json=CONGESTION)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "inserted"
    assert client.get(f"{V1}/policies/congestion").json()["hold_down_s"] == 10
    switched = client.patch(f"{V1}/policies/congestion", json={"enabled": False})
    assert switched.json()["status"] == "disabled"
    replaced = client.put(f"{V1}/policies/congestion", json=CONGESTION | {"hold_down_s": 5})
    assert (replaced.json()["hold_down_s"], replaced.json()["status"]) == (5, "inserted")
    assert client.get(f"{V1}/policies/congestion/audit").json() == []
    assert client.get(f"{V1}/audit").json() == []
    assert client.get(f"{V1}/alarms", params={"state": "active"}).json() == []
    assert detail(client.get(f"{V1}/alarms", params={"limit": 0}), 422)[0][0] == ["query", "limit"]
    assert client.delete(f"{V1}/policies/congestion").status_code == 204
    assert client.get(f"{V1}/policies").json() == []


def test_bad_policies_name_the_field(client: TestClient) -> None:
    unknown_rule = client.post(f"{V1}/policies", json=CONGESTION)
    assert detail(unknown_rule, 422) == [(["trigger", "alarm_rule"], "no alarm rule 'hot'")]
    unknown_action = CONGESTION | {"actions": [{"type": "reboot_everything"}]}
    [(loc, _)] = detail(client.post(f"{V1}/policies", json=unknown_action), 422)
    assert loc[:3] == ["body", "actions", 0]
    bad_url = CONGESTION | {"actions": [{"type": "webhook", "url": "not a url"}]}
    assert detail(client.post(f"{V1}/policies", json=bad_url), 422)[0][0][:3] == [
        "body",
        "actions",
        0,
    ]
    no_actions = CONGESTION | {"actions": []}
    assert detail(client.post(f"{V1}/policies", json=no_actions), 422)[0][0] == ["body", "actions"]
    assert detail(client.get(f"{V1}/policies/nope/audit"), 404)[0][0] == ["policy"]


def test_alarms_newest_first_and_by_state(client: TestClient, store: Store) -> None:
    def alarm(name: str, minute: int, state: AlarmState) -> Alarm:
        at = datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
        return Alarm(id=name, name=name, rule_id="r", rule_name="r", raised_at=at, status=state)

    with store.transaction() as repo:
        repo.alarms.add(alarm("old", 1, AlarmState.CLEARED))
        repo.alarms.add(alarm("new", 2, AlarmState.ACTIVE))
    assert [a["id"] for a in client.get(f"{V1}/alarms").json()] == ["new", "old"]
    assert [a["id"] for a in client.get(f"{V1}/alarms?state=cleared").json()] == ["old"]
    assert [a["id"] for a in client.get(f"{V1}/alarms?limit=1").json()] == ["new"]
