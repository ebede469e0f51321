from __future__ import annotations

import pytest
from pydantic import ValidationError

from netweave.model import (
    ConfigRule,
    Constraints,
    Device,
    EndpointRef,
    Event,
    EventType,
    Link,
    Service,
    TopologyDescriptor,
)
from netweave.model.ids import device_id, endpoint_id, is_id, make_id

A = EndpointRef(device_id="d1", endpoint_id="e1")
B = EndpointRef(device_id="d2", endpoint_id="e2")


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in exc.value.errors()]


def test_ids_are_deterministic_scoped_and_recognisable() -> None:
    assert device_id("s1") == device_id("s1") != device_id("s2")
    assert endpoint_id("s1", "eth1") != endpoint_id("s2", "eth1")
    assert make_id("device", "s1") == device_id("s1")
    assert is_id(device_id("s1")) and not is_id("s1")


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 129, "s1;drop"])
def test_bad_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Device(id="x", name=name)
    assert _errors(exc) == ["name"]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        Device.model_validate({"id": "x", "name": "s1", "colour": "red"})
    assert _errors(exc) == ["colour"]


def test_link_checks() -> None:
    with pytest.raises(ValidationError) as exc:
        Link(id="l", name="l", a=A, b=B, capacity_bps=-1)
    assert _errors(exc) == ["capacity_bps"]
    with pytest.raises(ValidationError, match="two different endpoints"):
        Link(id="l", name="l", a=A, b=A)
    with pytest.raises(ValidationError, match="exceeds capacity_bps"):
        Link(id="l", name="l", a=A, b=B, capacity_bps=10, reserved_bps=11)
    link = Link(id="l", name="l", a=A, b=B, capacity_bps=10, reserved_bps=4)
    assert link.unreserved_bps == 6


def test_validation_on_assignment() -> None:
    link = Link(id="l", name="l", a=A, b=B)
    with pytest.raises(ValidationError):
        link.latency_ms = -1.0


def test_service_may_wait_for_endpoints_but_needs_sane_constraints() -> None:
    assert Service(id="s", name="s", endpoints=[A]).endpoints == [A]
    with pytest.raises(ValidationError) as exc:
        Constraints(max_latency_ms=0, max_hops=0)
    assert sorted(_errors(exc)) == ["max_hops", "max_latency_ms"]


def test_event_entity_and_rule_defaults() -> None:
    assert Event(type=EventType.LINK_STATUS, entity_id="l").type.entity == "link"
    rule = ConfigRule(id="r", owner="o", device_id="d", key="/k")
    assert (rule.action.value, rule.status.value, rule.value) == ("set", "pending", {})


def test_descriptor_link_names_default_from_their_ends() -> None:
    descriptor = TopologyDescriptor.model_validate(
        {"links": [{"a": {"device": "s1", "port": "p1"}, "b": {"device": "s2", "port": "p2"}}]}
    )
    assert descriptor.links[0].effective_name == "s1:p1--s2:p2"
