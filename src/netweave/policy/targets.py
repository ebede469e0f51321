"""What a policy trigger concerns: the link, endpoint, device or service named by an
alarm's tags or by the entity of a bus event."""

from __future__ import annotations

from dataclasses import dataclass

from netweave.model import Event, EventType
from netweave.store import Repository


@dataclass(frozen=True)
class Target:
    """`kind`/`id` of the entity concerned; `label` names it for people (``link/s1-s2``);
    `link_id` is the link it is or sits on, if any."""

    kind: str
    id: str
    label: str
    link_id: str | None = None


def target_of(repo: Repository, event: Event) -> Target:
    """The target of an ``alarm.raised`` event (by its tags: link, service, device) or of
    an entity event (the entity; an endpoint's link too)."""
    if event.type is EventType.ALARM_RAISED:
        return _alarm_target(repo, event)
    kind, name = event.type.entity, str(event.data.get("name", event.entity_id))
    link_id = None
    if kind == "link":
        link_id = event.entity_id
    elif kind == "endpoint":
        link_id = next(
            (
                link.id
                for link in repo.links.list()
                if event.entity_id in (link.a.endpoint_id, link.b.endpoint_id)
            ),
            None,
        )
    return Target(kind, event.entity_id, f"{kind}/{name}", link_id)


def _alarm_target(repo: Repository, event: Event) -> Target:
    tags: dict[str, str] = event.data.get("tags", {})
    if (name := tags.get("link")) and (link := repo.links.find_by_name(name)):
        return Target("link", link.id, f"link/{name}", link.id)
    if (name := tags.get("service")) and (service := repo.services.find_by_name(name)):
        return Target("service", service.id, f"service/{name}")
    if (name := tags.get("device")) and (device := repo.devices.find_by_name(name)):
        return Target("device", device.id, f"device/{name}")
    series = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
    rule = str(event.data.get("rule_name", ""))
    return Target("alarm", event.entity_id, f"alarm/{rule}{{{series}}}")


def services_on_link(repo: Repository, link_id: str) -> set[str]:
    """Ids of the services with a connection over the link."""
    return {c.service_id for c in repo.connections.list() if link_id in c.link_ids}
