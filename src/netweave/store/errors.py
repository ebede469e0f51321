"""Store errors. All derive from `StoreError`; the API maps them to 404 / 409 / 503.

StoreError
├── NotFoundError    no entity with that id (or name)
├── ConflictError    a write breaks uniqueness; `field` names the column ("id", "name")
└── TransientError   lost a race (serialization failure, deadlock, lock timeout):
                     re-run the whole unit of work; `Store.run` does it for you
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error raised by the store."""


class NotFoundError(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class ConflictError(StoreError):
    """A write would break uniqueness (duplicate id or name) or another constraint."""

    def __init__(self, kind: str, message: str, field: str = "name") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.field = field
        self.message = message


class TransientError(StoreError):
    """The database refused this unit of work because of a concurrent one; nothing was
    written, and running it again may succeed."""
