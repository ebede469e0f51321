"""Generations of the kinds a process caches (see `netweave.store.cache`).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "generations",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    kinds = ("device", "endpoint", "link", "service", "connection")
    op.bulk_insert(table, [{"kind": kind, "value": 0} for kind in kinds])


def downgrade() -> None:
    op.drop_table("generations")
