"""What the rules of every service share: their owner and their priority."""

from __future__ import annotations

SERVICE_PRIORITY = 30000
"""Above default forwarding (10) and table-miss punts (0), below LLDP punts (65000)."""

OWNER_PREFIX = "service/"


def owner_of(service_id: str) -> str:
    return f"{OWNER_PREFIX}{service_id}"


def service_of(owner: str) -> str | None:
    """The service id of a rule owner, or None if a service does not own it."""
    return owner[len(OWNER_PREFIX) :] if owner.startswith(OWNER_PREFIX) else None
