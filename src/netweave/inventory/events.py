"""The one mapping from committed store changes to bus events."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from netweave.bus import EventBus
from netweave.model import Event, EventType
from netweave.store import Change, Op, Store

log = logging.getLogger(__name__)
_BY_KIND_AND_VERB = {tuple(t.value.split(".", 1)): t for t in EventType}


def events_for(change: Change) -> list[Event]:
    """`<kind>.<op>` (when such a topic exists), plus `<kind>.status` when an update
    changed the status field; nothing for an update that changed nothing."""
    if change.op is Op.UPDATED and change.before == change.entity:
        return []
    types: list[EventType] = []
    if (topic := _BY_KIND_AND_VERB.get((change.kind, change.op.value))) is not None:
        types.append(topic)
    if _status_changed(change) and (topic := _BY_KIND_AND_VERB.get((change.kind, "status"))):
        types.append(topic)
    if not types:
        return []
    entity = change.entity
    data = entity.model_dump(mode="json")
    return [Event(type=t, entity_id=data["id"], data=data) for t in types]


def _status_changed(change: Change) -> bool:
    before = change.before
    return isinstance(before, BaseModel) and _status(before) != _status(change.entity)


def _status(entity: BaseModel) -> object:
    return getattr(entity, "status", None)


def publish_changes(store: Store, bus: EventBus) -> None:
    """Publish the events of every transaction committed on `store` from now on. The
    write has happened: a bus that fails is logged, never reported as a failed write."""

    def publish(changes: list[Change]) -> None:
        for change in changes:
            for event in events_for(change):
                try:
                    bus.publish(event)
                except Exception:
                    log.exception("could not publish %s %s", event.type, event.entity_id)

    store.on_commit(publish)
