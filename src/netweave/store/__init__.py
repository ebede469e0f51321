"""The store: one repository interface over SQLAlchemy (SQLite by default, PostgreSQL by URL)."""

from netweave.store.errors import ConflictError, NotFoundError, StoreError
from netweave.store.repository import (
    Change,
    EntityCollection,
    Op,
    Repository,
    RuleCollection,
    Store,
)

__all__ = [
    "Change",
    "ConflictError",
    "EntityCollection",
    "NotFoundError",
    "Op",
    "Repository",
    "RuleCollection",
    "Store",
    "StoreError",
]
