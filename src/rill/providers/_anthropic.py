"""The Anthropic Messages API (``POST /v1/messages``): the ``anthropic``
endpoint and its codec. Requests are built in ``_anthropic_request``,
responses decoded in ``_anthropic_stream``.

The key goes in ``x-api-key`` (not ``Authorization``), with the
``anthropic-version`` header; beta features are turned on with
``extra_headers={"anthropic-beta": "..."}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .._chunks import StreamChunk
from .._errors import ProtocolError, ProviderStreamError, provider_error_message
from ._anthropic_request import ANTHROPIC_PARAMS, build_body
from ._anthropic_stream import AnthropicDecoder, decode_message
from ._base import Call
from ._failures import decode_body
from ._provider import Provider

__all__ = [
    "ANTHROPIC_VERSION",
    "AnthropicCodec",
    "AnthropicProvider",
    "providers",
]

ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True, repr=False)
class AnthropicProvider(Provider):
    """Anthropic's endpoint. The base URL is the host (``https://api.anthropic.com``,
    as the ``anthropic`` SDK takes it); one ending in ``/v1`` works too."""

    def url(self, base_url: str, call: Call) -> str:
        if base_url.endswith("/v1"):
            base_url = base_url[:-3]
        return base_url + self.codec.path(call)


def providers() -> list[Provider]:
    """The endpoints this module's codec serves."""
    return [
        AnthropicProvider(
            "anthropic",
            AnthropicCodec(),
            "https://api.anthropic.com",
            api_key_env=("ANTHROPIC_API_KEY",),
            base_url_env=("ANTHROPIC_BASE_URL",),
            auth_header="x-api-key",
            auth_scheme="",
            headers={"anthropic-version": ANTHROPIC_VERSION},
            # A forced tool call works on every Claude model; structured
            # outputs (response_format) only on recent ones.
            structured_mode="tool",
        )
    ]


class AnthropicCodec:
    """Builds Messages requests and decodes their responses."""

    name = "anthropic"
    supported_params = ANTHROPIC_PARAMS

    def path(self, call: Call) -> str:
        return "/v1/messages"

    def build_body(self, call: Call) -> dict[str, Any]:
        return build_body(self, call)

    def stream_decoder(self, call: Call) -> AnthropicDecoder:
        return AnthropicDecoder(call.provider, max_event_bytes=call.max_event_bytes)

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return decode_body(call.provider or self.name, body, _decode_response)


def _decode_response(body: bytes) -> list[StreamChunk]:
    """A whole Messages response as one chunk."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON message, got {body[:200]!r}")
    if obj.get("type") == "error" or "error" in obj:
        error = obj.get("error", obj)
        raise ProviderStreamError(provider_error_message("anthropic", error), error=error)
    return [decode_message(obj)]
