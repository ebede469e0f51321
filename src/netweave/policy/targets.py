"""What a policy trigger concerns: the link, endpoint, device or service named by an
alarm's tags or by the entity of a bus event."""

from __future__ import annotations

from dataclasses import dataclass

from netweave.model import Event, EventType, Policy
from netweave.store import Repository


@dataclass(frozen=True)
class Target:
    """`kind`/`id` of the entity concerned; `label` names it for people (``link/s1-s2``);
    `link_id` is the link it is or sits on, if any; `device_ids` the devices it is on."""

    kind: str
    id: str
    label: str
    link_id: str | None = None
    device_ids: frozenset[str] = frozenset()


def target_of(repo: Repository, event: Event) -> Target:
    """The target of an ``alarm.raised`` event (by its tags: link, service, device) or of
    an entity event (the entity; an endpoint's link too)."""
    if event.type is EventType.ALARM_RAISED:
        return _alarm_target(repo, event)
    kind, name = event.type.entity, str(event.data.get("name", event.entity_id))
    label = f"{kind}/{name}"
    if kind == "link":
        return _link_target(repo, event.entity_id, label)
    if kind == "endpoint":
        endpoint = repo.endpoints.find(event.entity_id)
        link = next(
            (
                link
                for link in repo.links.list()
                if event.entity_id in (link.a.endpoint_id, link.b.endpoint_id)
            ),
            None,
        )
        devices = frozenset([endpoint.device_id] if endpoint else [])
        return Target(kind, event.entity_id, label, link.id if link else None, devices)
    if kind == "service":
        return _service_target(repo, event.entity_id, label)
    devices = frozenset([event.entity_id] if kind == "device" else [])
    return Target(kind, event.entity_id, label, device_ids=devices)


def _link_target(repo: Repository, link_id: str, label: str) -> Target:
    link = repo.links.find(link_id)
    devices = frozenset([link.a.device_id, link.b.device_id] if link else [])
    return Target("link", link_id, label, link_id, devices)


def _service_target(repo: Repository, service_id: str, label: str) -> Target:
    service = repo.services.find(service_id)
    devices = frozenset(e.device_id for e in service.endpoints) if service else frozenset()
    return Target("service", service_id, label, device_ids=devices)


def _alarm_target(repo: Repository, event: Event) -> Target:
    tags: dict[str, str] = event.data.get("tags", {})
    if (name := tags.get("link")) and (link := repo.links.find_by_name(name)):
        return _link_target(repo, link.id, f"link/{name}")
    if (name := tags.get("service")) and (service := repo.services.find_by_name(name)):
        return _service_target(repo, service.id, f"service/{name}")
    if (name := tags.get("device")) and (device := repo.devices.find_by_name(name)):
        return Target("device", device.id, f"device/{name}", device_ids=frozenset([device.id]))
    series = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
    rule = str(event.data.get("rule_name", ""))
    return Target("alarm", event.entity_id, f"alarm/{rule}{{{series}}}")


def in_scope(repo: Repository, policy: Policy, target: Target) -> bool:
    """Whether `target` concerns the policy's services and devices (when it names some):
    a service itself, or a link one of them uses; a device itself or a link or port on it."""
    if policy.services:
        if target.kind == "service":
            if target.id not in policy.services:
                return False
        elif target.link_id is None or not services_on_link(repo, target.link_id) & set(
            policy.services
        ):
            return False
    return not policy.devices or bool(target.device_ids & set(policy.devices))


def services_on_link(repo: Repository, link_id: str) -> set[str]:
    """Ids of the services with a connection over the link."""
    return {c.service_id for c in repo.connections.list() if link_id in c.link_ids}
