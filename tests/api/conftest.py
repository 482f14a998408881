"""API test fixtures: the harness over memory adapters, and over SQLite/PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from entrypoints.harness import Harness, make_harness

PG_URL = os.environ.get("GHARART_TEST_POSTGRES_URL")


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with make_harness() as h:
        yield h


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_harness(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Harness]:
    """The same API over every storage adapter set."""
    if request.param == "memory":
        async with make_harness() as h:
            yield h
        return
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("GHARART_TEST_POSTGRES_URL not set")
        from tests.contract.conftest import _pg_database

        url, drop = await _pg_database()
    else:
        url, drop = f"sqlite+aiosqlite:///{tmp_path}/api.db", None
    try:
        async with make_harness(database_url=url, data_dir=tmp_path) as h:
            yield h
    finally:
        if drop is not None:
            await drop()


@pytest.fixture
def client(harness: Harness) -> Any:
    return harness.client
