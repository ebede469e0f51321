"""Relational schema. Entities are JSON documents keyed by (kind, id), with a unique
name per (kind, scope); config rules get their own table because they are many."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

entities = Table(
    "entities",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("scope", String(64), nullable=False, default=""),
    Column("name", String(128), nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("kind", "scope", "name", name="uq_entities_kind_scope_name"),
    Index("ix_entities_kind_scope", "kind", "scope"),
)

config_rules = Table(
    "config_rules",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("key", String(1000), nullable=False),
    Column("value", Text, nullable=False),
    Column("action", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_config_rules_device", "device_id"),
    Index("ix_config_rules_owner", "owner"),
)

generations = Table(
    "generations",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
"""How many transactions wrote each cached kind (see `netweave.store.cache`)."""
