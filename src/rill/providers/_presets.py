"""Built-in endpoints that speak OpenAI Chat Completions (and text completions).

Each preset is data: a default base URL, the environment variables for its key
and URL, and whether a key is needed. Azure differs in URL shape and auth
header, so it is a small subclass rather than a branch in the request path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from .._errors import ConfigurationError
from ._base import Call
from ._ollama import ollama_host_url
from ._openai_chat import OpenAIChatCodec
from ._openai_completions import OpenAICompletionsCodec
from ._provider import Provider

__all__ = ["AzureOpenAIProvider", "OllamaOpenAIProvider", "builtin_providers"]

AZURE_API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class AzureOpenAIProvider(Provider):
    """Azure OpenAI: the model is the deployment name; the key goes in an
    ``api-key`` header. A base URL ending in ``/openai/v1`` uses Azure's
    OpenAI-style v1 API; any other is a resource endpoint whose deployment URL
    is built here, with ``api-version`` from ``OPENAI_API_VERSION``."""

    def url(self, base_url: str, call: Call) -> str:
        if not base_url:
            raise ConfigurationError(
                "no Azure endpoint: set AZURE_OPENAI_ENDPOINT or pass base_url=..."
            )
        path = self.codec.path(call)
        if base_url.endswith("/openai/v1"):
            return base_url + path
        version = os.environ.get("OPENAI_API_VERSION") or AZURE_API_VERSION
        if "/openai/deployments/" not in base_url:
            base_url = f"{base_url}/openai/deployments/{call.model}"
        return f"{base_url}{path}?api-version={version}"


@dataclass(frozen=True)
class OllamaOpenAIProvider(Provider):
    """Ollama's OpenAI-compatible ``/v1`` endpoint (``ollama-openai/...``);
    ``OLLAMA_HOST`` names the server (``host:port`` or a URL) the way the
    ``ollama`` CLI reads it. The native API is the ``ollama/...`` provider."""

    def resolve_base_url(self, base_url: str | None) -> str:
        if base_url:
            return base_url.rstrip("/")
        host = os.environ.get("OLLAMA_HOST", "").strip()
        if not host:
            return self.base_url
        return ollama_host_url(host) + "/v1"


def builtin_providers() -> list[Provider]:
    """Every provider rill ships: the OpenAI-compatible presets below and the
    native codecs, each module contributing its own endpoints."""
    from . import _anthropic, _cohere, _gemini, _ollama, _openai_responses
    from ._emulated import EmulatorProvider

    native = [
        provider
        for module in (_anthropic, _gemini, _ollama, _openai_responses, _cohere)
        for provider in module.providers()
    ]
    emulator = EmulatorProvider("emulator", OpenAIChatCodec(), "", key_required=False)
    return [*_openai_compatible(), *native, emulator]


def _openai_compatible() -> list[Provider]:
    compat = OpenAIChatCodec()
    text = OpenAICompletionsCodec()
    presets = [
        Provider(
            "openai",
            OpenAIChatCodec(max_tokens_field="max_completion_tokens"),
            "https://api.openai.com/v1",
            api_key_env=("OPENAI_API_KEY",),
            base_url_env=("OPENAI_BASE_URL",),
        ),
        AzureOpenAIProvider(
            "azure",
            compat,
            "",
            api_key_env=("AZURE_OPENAI_API_KEY",),
            base_url_env=("AZURE_OPENAI_ENDPOINT",),
            auth_header="api-key",
            auth_scheme="",
        ),
        OllamaOpenAIProvider(
            "ollama-openai", compat, "http://127.0.0.1:11434/v1", key_required=False
        ),
        Provider(
            "vllm",
            compat,
            "http://127.0.0.1:8000/v1",
            api_key_env=("VLLM_API_KEY",),
            base_url_env=("VLLM_BASE_URL",),
            key_required=False,
        ),
        Provider(
            "llamacpp",
            compat,
            "http://127.0.0.1:8080/v1",
            api_key_env=("LLAMACPP_API_KEY",),
            base_url_env=("LLAMACPP_BASE_URL",),
            key_required=False,
        ),
        Provider(
            "lmstudio",
            compat,
            "http://127.0.0.1:1234/v1",
            api_key_env=("LMSTUDIO_API_KEY",),
            base_url_env=("LMSTUDIO_BASE_URL",),
            key_required=False,
        ),
        Provider(
            "groq",
            compat,
            "https://api.groq.com/openai/v1",
            api_key_env=("GROQ_API_KEY",),
            base_url_env=("GROQ_BASE_URL",),
        ),
        # DeepSeek has JSON mode but no schema-constrained output.
        Provider(
            "deepseek",
            compat,
            "https://api.deepseek.com/v1",
            api_key_env=("DEEPSEEK_API_KEY",),
            base_url_env=("DEEPSEEK_BASE_URL",),
            structured_mode="json",
        ),
        # Mistral always reports usage in the last chunk and rejects unknown fields.
        Provider(
            "mistral",
            compat,
            "https://api.mistral.ai/v1",
            api_key_env=("MISTRAL_API_KEY",),
            base_url_env=("MISTRAL_BASE_URL",),
            stream_usage=False,
        ),
        Provider(
            "openrouter",
            compat,
            "https://openrouter.ai/api/v1",
            api_key_env=("OPENROUTER_API_KEY",),
            base_url_env=("OPENROUTER_BASE_URL",),
        ),
        Provider(
            "together",
            compat,
            "https://api.together.xyz/v1",
            api_key_env=("TOGETHER_API_KEY",),
            base_url_env=("TOGETHER_BASE_URL",),
        ),
        Provider(
            "fireworks",
            compat,
            "https://api.fireworks.ai/inference/v1",
            api_key_env=("FIREWORKS_API_KEY",),
            base_url_env=("FIREWORKS_BASE_URL",),
        ),
        Provider(
            "xai",
            compat,
            "https://api.x.ai/v1",
            api_key_env=("XAI_API_KEY",),
            base_url_env=("XAI_BASE_URL",),
        ),
        # Perplexity has no version in its path, reports usage on its own and
        # has no tool calling (the server says so if tools are sent).
        Provider(
            "perplexity",
            compat,
            "https://api.perplexity.ai",
            api_key_env=("PERPLEXITY_API_KEY", "PPLX_API_KEY"),
            base_url_env=("PERPLEXITY_BASE_URL",),
            stream_usage=False,
        ),
    ]
    # Every OpenAI-compatible endpoint may serve text completions beside chat
    # (one that does not answers 404, a NotFoundError).
    return [replace(p, completions=text) for p in presets]
