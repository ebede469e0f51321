"""Initial schema: entities as JSON documents, config rules in their own table.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entities",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.UniqueConstraint("kind", "scope", "name", name="uq_entities_kind_scope_name"),
    )
    op.create_index("ix_entities_kind_scope", "entities", ["kind", "scope"])
    op.create_table(
        "config_rules",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(1000), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_config_rules_device", "config_rules", ["device_id"])
    op.create_index("ix_config_rules_owner", "config_rules", ["owner"])


def downgrade() -> None:
    op.drop_table("config_rules")
    op.drop_table("entities")
