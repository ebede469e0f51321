"""Alarm rules (also as TOSCA alert specifications), alarms, policies and their audit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from pydantic import BaseModel, ConfigDict

from netweave.api.errors import ERROR_RESPONSES
from netweave.assurance.alerts_tosca import AlertSpecError, load_alert_spec
from netweave.inventory import Invalid
from netweave.model import (
    Alarm,
    AlarmRule,
    AlarmRuleSpec,
    AlarmState,
    AuditEntry,
    Policy,
    PolicySpec,
)
from netweave.policy.admin import Assurance
from netweave.store import Store

router = APIRouter(responses=ERROR_RESPONSES)
CREATED = status.HTTP_201_CREATED
DELETED = status.HTTP_204_NO_CONTENT
ALERT_EXAMPLE = """policies:
- high_util:
    type: eu.ict-flame.policies.Alert
    triggers:
      t1:
        event_type: threshold
        metric: link.utilisation
        condition: {threshold: 80, granularity: 10, aggregation_method: mean,
                    resource_type: {link: s1-s2}, comparison_operator: gt}
        action: {implementation: [internal]}
"""


def _assurance(request: Request) -> Assurance:
    assurance: Assurance = request.app.state.assurance
    return assurance


AssuranceDep = Annotated[Assurance, Depends(_assurance)]


class PolicySwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


# -- alarm rules and alarms ------------------------------------------------------------


@router.get("/alarm-rules", tags=["alarms"])
def list_alarm_rules(assurance: AssuranceDep) -> list[AlarmRule]:
    return assurance.list_alarm_rules()


@router.post("/alarm-rules", tags=["alarms"], status_code=CREATED)
def create_alarm_rule(body: AlarmRuleSpec, assurance: AssuranceDep) -> AlarmRule:
    return assurance.create_alarm_rule(body)


@router.get("/alarm-rules/{id_or_name}", tags=["alarms"])
def get_alarm_rule(id_or_name: str, assurance: AssuranceDep) -> AlarmRule:
    return assurance.get_alarm_rule(id_or_name)


@router.delete("/alarm-rules/{id_or_name}", tags=["alarms"], status_code=DELETED)
def delete_alarm_rule(id_or_name: str, assurance: AssuranceDep) -> None:
    assurance.delete_alarm_rule(id_or_name)


@router.post(
    "/alerts",
    tags=["alarms"],
    status_code=CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}, "example": ALERT_EXAMPLE},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def apply_alert_spec(request: Request, assurance: AssuranceDep) -> list[AlarmRule]:
    """A TOSCA alert specification (YAML or JSON, FLAME CLMC style): its triggers become
    alarm rules named ``<policy>.<trigger>``, replacing rules of the same name."""
    raw = await request.body()
    try:
        spec: Any = load_alert_spec(raw.decode())
    except (AlertSpecError, UnicodeDecodeError) as error:
        raise Invalid("body", str(error)) from None
    return assurance.apply_alert_spec(spec)


@router.get("/alarms", tags=["alarms"])
def list_alarms(
    assurance: AssuranceDep,
    state: AlarmState | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> list[Alarm]:
    """Alarms, newest first; ``?state=active`` for the active ones only."""
    return assurance.list_alarms(state, limit)


# -- policies --------------------------------------------------------------------------


@router.get("/policies", tags=["policies"])
def list_policies(assurance: AssuranceDep) -> list[Policy]:
    return assurance.list_policies()


@router.post("/policies", tags=["policies"], status_code=CREATED)
def create_policy(body: PolicySpec, assurance: AssuranceDep) -> Policy:
    return assurance.create_policy(body)


@router.get("/policies/{id_or_name}", tags=["policies"])
def get_policy(id_or_name: str, assurance: AssuranceDep) -> Policy:
    return assurance.get_policy(id_or_name)


@router.put("/policies/{id_or_name}", tags=["policies"])
def replace_policy(id_or_name: str, body: PolicySpec, assurance: AssuranceDep) -> Policy:
    return assurance.replace_policy(id_or_name, body)


@router.patch("/policies/{id_or_name}", tags=["policies"])
def switch_policy(id_or_name: str, body: PolicySwitch, assurance: AssuranceDep) -> Policy:
    return assurance.set_enabled(id_or_name, body.enabled)


@router.delete("/policies/{id_or_name}", tags=["policies"], status_code=DELETED)
def delete_policy(id_or_name: str, assurance: AssuranceDep) -> None:
    assurance.delete_policy(id_or_name)


@router.get("/policies/{id_or_name}/audit", tags=["policies"])
def policy_audit(id_or_name: str, assurance: AssuranceDep) -> list[AuditEntry]:
    return assurance.audit(id_or_name)


@router.get("/audit", tags=["policies"])
def audit(assurance: AssuranceDep) -> list[AuditEntry]:
    """Everything every policy did, tried or held back."""
    return assurance.audit()


def install_assurance(app: FastAPI, prefix: str, store: Store) -> None:
    """Serve the assurance routes of `store` under `prefix`."""
    app.state.assurance = Assurance(store)
    app.include_router(router, prefix=prefix)
