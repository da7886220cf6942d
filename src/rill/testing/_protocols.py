"""The emulator's protocol registry: which encoder answers which path.

An encoder turns a ``Script`` into one provider protocol's bytes; the server
finds it by the request path's suffix and knows nothing of any provider's
JSON. Encoder modules load on first use.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from ._script import RecordedRequest, Script

__all__ = ["ENCODERS", "Encoder", "encoder_for", "retrieving_encoder"]


class Encoder(Protocol):
    """Turns a script into one protocol's bytes. Sans-IO: no sockets, no clock.

    An encoder may set ``content_type`` for its streamed responses (default
    ``text/event-stream``; NDJSON protocols say ``application/x-ndjson``).
    """

    def wants_stream(self, request: RecordedRequest) -> bool:
        """Whether ``request`` asked for a streamed response."""
        ...

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """The frames of a streamed response (each one event, e.g. one SSE event)."""
        ...

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The body of a non-streamed response."""
        ...

    def error(self, status: int, message: str) -> bytes:
        """A JSON error body for ``status`` in this protocol's shape."""
        ...


# Path suffix -> (module, class) of the encoder for that protocol. Modules load
# on first use; the longest matching suffix wins.
_ENCODER_HOMES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "/chat/completions": ("._openai_chat", "OpenAIChatEncoder"),
        "/completions": ("._openai_completions", "OpenAICompletionsEncoder"),
        "/v1/messages": ("._anthropic", "AnthropicEncoder"),
        ":streamGenerateContent": ("._gemini", "GeminiEncoder"),
        ":generateContent": ("._gemini", "GeminiEncoder"),
        "/api/chat": ("._ollama", "OllamaChatEncoder"),
        "/api/generate": ("._ollama", "OllamaGenerateEncoder"),
        "/responses": ("._openai_responses", "ResponsesEncoder"),
        "/v2/chat": ("._cohere", "CohereEncoder"),
    }
)


@functools.cache
def _load_encoder(module: str, name: str) -> Encoder:
    encoder: Encoder = getattr(importlib.import_module(module, __package__), name)()
    return encoder


def encoder_for(path: str) -> Encoder | None:
    """The encoder whose suffix ends ``path`` (longest first), or None."""
    for suffix, (module, name) in sorted(_ENCODER_HOMES.items(), key=lambda kv: -len(kv[0])):
        if path.endswith(suffix):
            return _load_encoder(module, name)
    return None


def retrieving_encoder(path: str) -> Encoder | None:
    """For ``GET <collection>/<id>``, the collection's encoder if it sets
    ``retrieves`` (it then reads ``request.method`` and ``request.query``)."""
    collection = path.rpartition("/")[0]
    encoder = encoder_for(collection) if collection else None
    return encoder if getattr(encoder, "retrieves", False) else None


ENCODERS = _ENCODER_HOMES
"""The protocol registry (path suffix -> encoder module and class)."""
