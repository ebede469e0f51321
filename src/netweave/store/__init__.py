"""The store: one repository interface over SQLAlchemy (SQLite by default, PostgreSQL by URL)."""

from netweave.store.changes import Change, Changes, CommitListener, Op
from netweave.store.entities import EntityCollection
from netweave.store.errors import ConflictError, NotFoundError, StoreError, TransientError
from netweave.store.migrate import migrate
from netweave.store.repository import Repository, Store
from netweave.store.rules import RuleCollection

__all__ = [
    "Change",
    "Changes",
    "CommitListener",
    "ConflictError",
    "EntityCollection",
    "NotFoundError",
    "Op",
    "Repository",
    "RuleCollection",
    "Store",
    "StoreError",
    "TransientError",
    "migrate",
]
