"""Translate driver errors (sqlite3, psycopg) into store errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError

from netweave.store.errors import ConflictError, StoreError, TransientError

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
_TRANSIENT_SQLITE = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w., ]+)")
_POSTGRES_UNIQUE = re.compile(r"Key \(([^)]*)\)=")


def is_transient(exc: DBAPIError) -> bool:
    """True when re-running the unit of work may succeed."""
    orig = exc.orig
    return (
        exc.connection_invalidated
        or getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES
        or getattr(orig, "sqlite_errorname", None) in _TRANSIENT_SQLITE
    )


def unique_columns(exc: IntegrityError) -> list[str]:
    """The columns of the unique constraint `exc` reports (empty for other violations)."""
    message = str(exc.orig)
    found = _SQLITE_UNIQUE.search(message) or _POSTGRES_UNIQUE.search(message)
    if found is None:
        return []
    return [column.strip().rsplit(".", 1)[-1] for column in found.group(1).split(",")]


def conflict(exc: IntegrityError, kind: str) -> ConflictError:
    """A `ConflictError` naming the duplicated field (`name` wins over the key columns)."""
    columns = unique_columns(exc)
    if not columns:
        return ConflictError(kind, f"constraint violated: {exc.orig}", field="")
    field = "name" if "name" in columns else columns[-1]
    reason = " ".join(str(exc.orig).split())
    return ConflictError(kind, f"{field} already exists ({reason})", field=field)


def translate(exc: DBAPIError, kind: str = "store") -> StoreError | None:
    """The store error for `exc`, or None when it is not one the caller can act on."""
    if isinstance(exc, IntegrityError):
        return conflict(exc, kind)
    if is_transient(exc):
        return TransientError(f"{kind}: concurrent write, retry the transaction ({exc.orig})")
    return None


@contextmanager
def conflicts_as(kind: str) -> Iterator[None]:
    """Turn a unique violation in the block into a `ConflictError` about `kind` (it
    happens when a concurrent transaction took an id or name after our own check)."""
    try:
        yield
    except IntegrityError as exc:
        raise conflict(exc, kind) from exc
