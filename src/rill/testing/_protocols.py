"""The emulator's protocol registry: which encoder answers which path.

An encoder turns a ``Script`` into one provider protocol's bytes; the server
finds it by the request path's suffix and knows nothing of any provider's
JSON. Encoder modules load on first use.

Routing is strict: the suffix picks the protocol, and the encoder's
``routes`` (full-path patterns) say where that protocol really lives, so a
client configured with the wrong base URL gets a 404 naming the right one
rather than an answer its real provider would never give. An encoder may
also say what a request asks for (``intent``) and refuse a malformed one in
its provider's own words (``validate``); both are optional, so a new
protocol module needs only the four methods of ``Encoder``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from ._intent import Intent, text_of
from ._script import RecordedRequest, Script

__all__ = [
    "ENCODERS",
    "Encoder",
    "Route",
    "encoder_for",
    "intent_of",
    "invalid",
    "retrieving_encoder",
    "route",
    "served_at",
    "every_protocol",
]


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


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request path leads: the encoder that answers it, or (when the
    suffix names a protocol but the path is not where that protocol lives)
    the encoder whose 404 it gets, with ``misplaced`` True."""

    encoder: Encoder
    misplaced: bool = False


def route(path: str, method: str = "POST") -> Route | None:
    """The route for ``path``, or None when no protocol's suffix matches."""
    encoder = encoder_for(path)
    if encoder is None and method == "GET":
        encoder = retrieving_encoder(path)
    if encoder is None:
        return None
    routes = getattr(encoder, "routes", None)
    if routes is None:  # an encoder without strict routes takes its suffix anywhere
        return Route(encoder)
    return Route(encoder, misplaced=not any(r.fullmatch(path) for r in routes))


def served_at(encoder: Encoder, url: str) -> str:
    """A sentence naming the base URL a client of ``encoder``'s protocol should use."""
    name = getattr(encoder, "protocol", type(encoder).__name__)
    base = url + getattr(encoder, "base_path", "")
    return f"{name} is served with base_url={base!r}"


def every_protocol(url: str) -> list[str]:
    """``served_at`` for every registered protocol, in registry order."""
    seen: list[str] = []
    for module, name in _ENCODER_HOMES.values():
        line = served_at(_load_encoder(module, name), url)
        if line not in seen:
            seen.append(line)
    return seen


def invalid(encoder: Encoder, request: RecordedRequest) -> str | None:
    """The protocol's own message for a malformed request, or None."""
    validate = getattr(encoder, "validate", None)
    return None if validate is None else validate(request)


def intent_of(encoder: Encoder, request: RecordedRequest) -> Intent:
    """What ``request`` asks for; a protocol that cannot say gives the model
    and the ``prompt`` field, when there are."""
    read = getattr(encoder, "intent", None)
    if read is not None:
        return read(request)  # type: ignore[no-any-return]
    params = request.params
    return Intent(model=str(params.get("model") or ""), prompt=text_of(params.get("prompt")))
