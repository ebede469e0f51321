"""What policies can do. Each action returns a line saying what it did, or raises
`ActionError` (or any exception) when it could not; the engine audits and retries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from netweave.bus import EventBus
from netweave.model import (
    DrainLink,
    Event,
    EventType,
    OperStatus,
    Policy,
    PolicyAction,
    RaiseEvent,
    RerouteAvoiding,
    Webhook,
)
from netweave.policy.targets import Target, services_on_link
from netweave.policy.webhooks import post_json
from netweave.services import Infeasible, Provisioning, ResourceConflict
from netweave.store import Repository, Store


class ActionError(Exception):
    """An action could not be carried out (the message says why)."""


@dataclass(frozen=True)
class ActionContext:
    store: Store
    bus: EventBus
    client: httpx.AsyncClient
    policy: Policy
    trigger: Event
    target: Target


async def run_action(action: PolicyAction, ctx: ActionContext) -> str:
    match action:
        case RerouteAvoiding():
            link_id = _link_of(ctx.target)
            scope = set(ctx.policy.services)
            moved = await asyncio.to_thread(
                ctx.store.run, lambda repo: _exclude_link(repo, link_id, scope, strict=True)
            )
            return f"services excluding {ctx.target.label}: {', '.join(moved) or 'none on it'}"
        case DrainLink():
            link_id = _link_of(ctx.target)
            moved = await asyncio.to_thread(ctx.store.run, lambda repo: _drain(repo, link_id))
            return f"{ctx.target.label} down; services moved off it: {', '.join(moved) or 'none'}"
        case Webhook(url=url, timeout_s=timeout_s):
            status = await post_json(ctx.client, str(url), notification(ctx), timeout_s)
            return f"POST {url}: {status}"
        case RaiseEvent(name=name):
            data = {"name": name, **notification(ctx)}
            ctx.bus.publish(
                Event(type=EventType.POLICY_NOTIFICATION, entity_id=ctx.policy.id, data=data)
            )
            return f"published {EventType.POLICY_NOTIFICATION.value} {name}"


def notification(ctx: ActionContext) -> dict[str, object]:
    """The JSON a webhook or notification event carries."""
    return {
        "policy": ctx.policy.name,
        "target": ctx.target.label,
        "trigger": ctx.trigger.model_dump(mode="json"),
        "time": datetime.now(UTC).isoformat(),
    }


def _link_of(target: Target) -> str:
    if target.link_id is None:
        raise ActionError(f"{target.label} is not a link and is on no link")
    return target.link_id


def _exclude_link(repo: Repository, link_id: str, scope: set[str], *, strict: bool) -> list[str]:
    """Add the link to `exclude_links` of the services on it (of `scope`, if not empty)
    and route them again now. `strict`: a service with no other way raises (and nothing
    is written) instead of being left failed."""
    changed = []
    for service_id in sorted(services_on_link(repo, link_id)):
        if scope and service_id not in scope:
            continue
        service = repo.services.get(service_id)
        if link_id not in service.constraints.exclude_links:
            constraints = service.constraints.model_copy(
                update={"exclude_links": [*service.constraints.exclude_links, link_id]}
            )
            service = repo.services.update(service.model_copy(update={"constraints": constraints}))
        try:
            Provisioning(repo).converge(service, strict=strict, recompute=True)
        except (Infeasible, ResourceConflict) as error:
            raise ActionError(f"service {service.name}: {error.reason}") from error
        changed.append(service.name)
    return changed


def _drain(repo: Repository, link_id: str) -> list[str]:
    link = repo.links.get(link_id)
    if link.status is not OperStatus.DOWN:
        repo.links.update(link.model_copy(update={"status": OperStatus.DOWN}))
    return _exclude_link(repo, link_id, set(), strict=False)
