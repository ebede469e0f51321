"""Shared fixtures: a store on every backend (SQLite always, PostgreSQL when
NETWEAVE_TEST_PG names a server), and an in-process bus."""

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


def _postgres_store() -> Iterator[Store]:
    url = os.environ.get("NETWEAVE_TEST_PG")
    if not url:
        pytest.skip("NETWEAVE_TEST_PG not set (scripts/test.sh starts a throwaway server)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Store.open(url, create=False)
    with admin.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    store = Store.open(f"{url}{sep}options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store on each backend."""
    if request.param == "postgresql":
        yield from _postgres_store()
        return
    store = Store.open(f"sqlite:///{tmp_path / 'netweave.db'}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()
