"""Deterministic identifiers: the same name always maps to the same id.

Descriptors and users refer to things by name; the store keys them by id. An id is a
UUIDv5 of the entity kind and its (scoped) name, so a name can be resolved to an id
without a lookup, and two controllers loading the same descriptor agree on every id.
"""

from __future__ import annotations

import uuid
from typing import Final

NAMESPACE: Final = uuid.UUID("6f1c1d8e-3b0a-5b4e-9a51-6e65747765ae")


def make_id(kind: str, *names: str) -> str:
    """The id of the entity of `kind` named by `names` (outermost scope first)."""
    return str(uuid.uuid5(NAMESPACE, "/".join((kind, *names))))


def is_id(value: str) -> bool:
    """True when `value` is already an id (a UUID string), not a name."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def device_id(name: str) -> str:
    return make_id("device", name)


def endpoint_id(device_name: str, endpoint_name: str) -> str:
    return make_id("endpoint", device_name, endpoint_name)


def link_id(name: str) -> str:
    return make_id("link", name)


def service_id(name: str) -> str:
    return make_id("service", name)


def rule_id(owner: str, device: str, key: str) -> str:
    return make_id("config-rule", owner, device, key)
