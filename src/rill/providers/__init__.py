"""Providers: sans-IO codecs (wire formats) and the endpoints that speak them."""

from .._params import Params
from ._base import Call, ChunkDecoder, Codec, HTTPRequest
from ._openai_chat import OpenAIChatCodec
from ._openai_completions import OpenAICompletionsCodec
from ._param_support import ParamTable, Refused, Render, render_params
from ._presets import AzureOpenAIProvider, OllamaOpenAIProvider, builtin_providers
from ._provider import Provider
from ._registry import get_provider, provider_names, register_provider, resolve_model

for _provider in builtin_providers():
    register_provider(_provider)
del _provider

__all__ = [
    "AzureOpenAIProvider",
    "Call",
    "ChunkDecoder",
    "Codec",
    "HTTPRequest",
    "OllamaOpenAIProvider",
    "OpenAIChatCodec",
    "OpenAICompletionsCodec",
    "ParamTable",
    "Params",
    "Provider",
    "Refused",
    "Render",
    "builtin_providers",
    "get_provider",
    "provider_names",
    "register_provider",
    "render_params",
    "resolve_model",
]
