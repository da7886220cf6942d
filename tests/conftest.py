"""Shared test helpers: where the recorded corpus lives, and a clean environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
WIRE = ROOT.parent / "shared" / "fixtures" / "wire"


def _environment_variables() -> frozenset[str]:
    """Every variable rill reads: each registered provider's key and base-URL
    variables, and any other name the source reads (found by its spelling),
    so a new provider or setting is isolated without editing this file."""
    from rill.providers import get_provider, provider_names

    names = set()
    for name in provider_names():
        provider = get_provider(name)
        names |= {*provider.api_key_env, *provider.base_url_env}
    suffixes = "KEY|URL|HOST|PROJECT|LOCATION|TOKEN|VERSION|ENDPOINT|DIR"
    spelled = re.compile(rf"[\"']([A-Z][A-Z0-9_]*_(?:{suffixes}))[\"']")
    for path in (ROOT / "src" / "rill").rglob("*.py"):
        names |= set(spelled.findall(path.read_text()))
    return frozenset(names)


_KEY_VARS = _environment_variables()

# One hypothesis profile for every property test: reproducible in CI (no
# example database, derandomized), no per-example deadline unless a test sets
# one (the machines are shared and noisy).
settings.register_profile(
    "rill",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("rill")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's real keys or endpoints."""
    for var in _KEY_VARS:
        monkeypatch.delenv(var, raising=False)


def wire_files(group: str, pattern: str = "*.sse") -> list[Path]:
    """Recorded bodies of one corpus group, or a skip when the corpus is absent."""
    folder = WIRE / group
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if not p.name.endswith(".request.json"))


def require_wire() -> None:
    if not WIRE.is_dir():
        pytest.skip(f"recorded provider streams not found at {WIRE} (../shared is absent)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test (or parameter) marked ``shared`` reads the recorded corpus:
    ``-m shared`` selects all of them, and they skip when it is absent."""
    if item.get_closest_marker("shared") is not None:
        require_wire()


@pytest.fixture(
    params=[
        pytest.param(("asyncio", "aiohttp"), id="asyncio-aiohttp"),
        pytest.param(("asyncio", "httpx"), id="asyncio-httpx"),
        pytest.param(("trio", "httpx"), id="trio-httpx"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every async test runs on each async transport rill picks by itself:
    aiohttp on asyncio (the default), httpx on asyncio (as if aiohttp could
    not be used) and httpx on trio."""
    backend, transport = request.param
    if transport == "httpx":
        from rill import transports

        monkeypatch.setattr(transports, "_on_asyncio", lambda: False)
    return str(backend)
