"""OpenAI-compatible vendors are data: a preset names the base URL, the key
variables and what the vendor accepts; the OpenAI chat codec does the rest."""

from __future__ import annotations

import pytest

import rill
from rill.providers import get_provider
from rill.testing import Emulator, Script


@pytest.mark.parametrize(
    ("name", "base_url", "key_var", "usage_requested"),
    [
        ("xai", "https://api.x.ai/v1", "XAI_API_KEY", True),
        ("perplexity", "https://api.perplexity.ai", "PERPLEXITY_API_KEY", False),
    ],
)
def test_a_preset_streams_with_its_key_and_settings(
    rill_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    base_url: str,
    key_var: str,
    usage_requested: bool,
) -> None:
    provider = get_provider(name)
    assert provider.codec.name == "openai-chat"
    assert provider.resolve_base_url(None) == base_url
    monkeypatch.setenv(key_var, "key-from-the-environment")
    monkeypatch.setenv(f"{name.upper()}_BASE_URL", rill_emulator.base_url)
    rill_emulator.enqueue(Script.of_text("hello there"))
    resp = rill.generate("Hi", model=f"{name}/some-model")
    assert resp.content == "hello there" and resp.provider == name
    request = rill_emulator.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer key-from-the-environment"
    assert ("stream_options" in request.params) is usage_requested


def test_perplexity_also_reads_pplx_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPLX_API_KEY", "pplx-key")
    assert get_provider("perplexity").resolve_api_key(None) == "pplx-key"
    monkeypatch.delenv("PPLX_API_KEY")
    with pytest.raises(rill.MissingAPIKeyError, match="PERPLEXITY_API_KEY or PPLX_API_KEY"):
        rill.generate_stream("Hi", model="perplexity/sonar")
