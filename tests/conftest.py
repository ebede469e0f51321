"""Shared fixtures: a database on every backend (SQLite always, PostgreSQL when
NETWEAVE_TEST_PG names a server), a store on it, and an in-process bus."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from netweave.bus import InProcessBus
from netweave.store import Store

BACKENDS = ["sqlite", "postgresql"]


def _postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    url = os.environ.get("NETWEAVE_TEST_PG")
    if not url:
        pytest.skip("NETWEAVE_TEST_PG not set (scripts/test.sh starts a throwaway server)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Store.open(url, create=False)
    with admin.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.close()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database (no tables yet) on each backend."""
    if request.param == "postgresql":
        yield from _postgres_url()
    else:
        yield f"sqlite:///{tmp_path / 'netweave.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A fresh, empty store on each backend."""
    store = Store.open(store_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()
