"""What a provider is made of: a codec (the wire format) and an endpoint (where
and how to authenticate). Several endpoints share one codec, as every
OpenAI-compatible server shares the Chat Completions codec.

A codec is sans-IO. ``build_body`` turns a call into the JSON request body;
``stream_decoder`` returns a fresh object that turns response bytes into
``StreamChunk`` values; ``decode_response`` turns a whole non-streamed body
into chunks, so both paths feed the same accumulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._chunks import StreamChunk
from .._errors import RemoteError
from .._messages import Message
from .._tools import ToolSpec
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES

__all__ = ["Call", "ChunkDecoder", "Codec", "HTTPRequest"]


@dataclass(frozen=True, slots=True)
class Call:
    """A validated generation request, independent of any provider.

    ``params`` holds the common parameters other than tools; ``tools`` and
    ``tool_choice`` are normalized (``auto``/``none``/``required``/a tool name)
    for each codec to render. ``stream`` is False for providers that cannot
    stream: their whole response then arrives as one chunk per choice.
    """

    model: str
    messages: tuple[Message, ...]
    params: Mapping[str, Any]
    stream: bool = True
    stream_usage: bool = True
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    provider: str = ""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    # The largest event, line or element a stream decoder may hold (and the
    # largest whole response body); see wire._limits.
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES

    @property
    def n(self) -> int:
        n = self.params.get("n", 1)
        return n if isinstance(n, int) else 1


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """What a driver sends. ``headers`` may hold secrets, so they stay out of repr."""

    method: str
    url: str
    body: bytes
    headers: Mapping[str, str] = field(repr=False)


class ChunkDecoder(Protocol):
    """Per-response state: bytes in, chunks out.

    A body that is not a stream at all (a whole JSON response or a JSON error
    sent instead) is the decoder's to recognise, since what counts as a stream
    differs: Gemini streams a JSON array under ``application/json``.

    ``feed`` may raise :class:`~rill.ProviderStreamError` or
    :class:`~rill.ProtocolError`; ``complete`` tells whether the provider has
    signalled the end of the stream, so a connection that closes before then
    is reported as incomplete. A failure the provider reported is set as
    ``error`` (not raised) so the chunks decoded before it are still delivered.
    """

    error: RemoteError | None

    @property
    def complete(self) -> bool: ...

    def feed(self, data: bytes) -> list[StreamChunk]: ...

    def flush(self) -> list[StreamChunk]: ...


class Codec(Protocol):
    """A wire format."""

    name: str

    def build_body(self, call: Call) -> dict[str, Any]: ...

    def path(self, call: Call) -> str: ...

    def stream_decoder(self, call: Call) -> ChunkDecoder: ...

    def decode_response(self, body: bytes) -> list[StreamChunk]: ...
