"""Alembic environment: runs on the connection `netweave.store.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from netweave.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through netweave.store.migrate(url), not the alembic CLI")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
