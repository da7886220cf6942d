"""Shared test helpers: where the recorded corpus lives, and a clean environment."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WIRE = ROOT.parent / "shared" / "fixtures" / "wire"

_KEY_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "GROQ_API_KEY",
    "DEEPSEEK_API_KEY",
    "MISTRAL_API_KEY",
    "OPENROUTER_API_KEY",
    "TOGETHER_API_KEY",
    "FIREWORKS_API_KEY",
    "OLLAMA_HOST",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "GOOGLE_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "VERTEX_ACCESS_TOKEN",
    "OLLAMA_API_KEY",
    "CO_API_KEY",
    "CO_API_URL",
    "COHERE_API_KEY",
    "VLLM_API_KEY",
    "VLLM_BASE_URL",
    "LLAMACPP_API_KEY",
    "LLAMACPP_BASE_URL",
    "LMSTUDIO_API_KEY",
    "LMSTUDIO_BASE_URL",
    "OPENAI_API_VERSION",
    "TIKTOKEN_CACHE_DIR",
)


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


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Run every ``async def`` test on anyio's plugin, without marking each.
    The mark goes on before items are made, so parametrization still applies."""
    import inspect

    if collector.funcnamefilter(name) and inspect.iscoroutinefunction(obj):  # type: ignore[attr-defined]
        pytest.mark.anyio(obj)
