"""Fixtures for the server: real stores (memory, SQLite file, redis-server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rill.testing import Emulator

from .redis_proc import RedisClusterProcess, RedisProcess

UPSTREAM_KEY = "sk-upstream-secret-0123456789"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcess]:
    cluster = RedisClusterProcess(tmp_path_factory.mktemp("redis-cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


KINDS = ["memory", "sqlite", "redis", "redis-cluster"]


def _url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory"
    if kind == "sqlite":
        return f"sqlite:{tmp_path / 'streams.db'}"
    if kind == "redis-cluster":
        cluster: RedisClusterProcess = request.getfixturevalue("redis_cluster")
        return cluster.url
    redis: RedisProcess = request.getfixturevalue("redis_server")
    return redis.url


@pytest.fixture(params=KINDS)
def store_url(request: pytest.FixtureRequest, anyio_backend: str, tmp_path: Path) -> str:
    """A store URL as ``rill serve --store`` takes it, fresh per (async) test."""
    if request.param.startswith("redis") and anyio_backend != "asyncio":
        pytest.skip("redis-py's asyncio client runs on asyncio only")
    return _url(request.param, request, tmp_path)


@pytest.fixture(params=KINDS)
def served_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same, for a server running on its own (asyncio) loop."""
    return _url(request.param, request, tmp_path)


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The emulator as the server's OpenAI upstream, with a secret key."""
    with Emulator() as emu:
        monkeypatch.setenv("OPENAI_BASE_URL", emu.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", UPSTREAM_KEY)
        yield emu
