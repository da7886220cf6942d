"""Fixtures for the server: real stores (memory, SQLite file, redis-server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .redis_proc import RedisProcess


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_kind(request: pytest.FixtureRequest, anyio_backend: str) -> str:
    kind = str(request.param)
    if kind == "redis" and anyio_backend != "asyncio":
        pytest.skip("redis-py's asyncio client runs on asyncio only")
    return kind


@pytest.fixture
def store_url(store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL as ``rill serve --store`` takes it, fresh per test."""
    if store_kind == "memory":
        return "memory"
    if store_kind == "sqlite":
        return f"sqlite:{tmp_path / 'streams.db'}"
    redis: RedisProcess = request.getfixturevalue("redis_server")
    return redis.url
