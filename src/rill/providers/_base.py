"""What a provider is made of: a codec (the wire format) and an endpoint (where
and how to authenticate). Several endpoints share one codec, as every
OpenAI-compatible server shares the Chat Completions codec.

A codec is sans-IO. ``supported_params`` declares the common parameters it
takes and how each is rendered (``_param_support``); ``build_body`` turns a
call into the JSON request body;
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
from .._params import Params
from .._tools import ToolSpec
from ..wire._limits import DEFAULT_MAX_EVENT_BYTES
from ._param_support import ParamTable

__all__ = ["Call", "ChunkDecoder", "Codec", "HTTPRequest"]


_NO_PARAMS = Params()


@dataclass(frozen=True, slots=True)
class Call:
    """A validated generation request, independent of any provider.

    ``params`` holds the common parameters other than tools, typed, None
    where not set (rendered by ``_param_support.render_params``); ``tools`` and
    ``tool_choice`` are normalized (``auto``/``none``/``required``/a tool name)
    for each codec to render. ``stream`` is False for providers that cannot
    stream: their whole response then arrives as one chunk per choice.
    ``prompt`` holds the prompts of a text completion (``rill.complete``;
    ``messages`` then has one user message per prompt, for estimates and
    for codecs that read messages) and is None for a chat call.
    """

    model: str
    messages: tuple[Message, ...]
    params: Params = _NO_PARAMS
    stream: bool = True
    stream_usage: bool = True
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    provider: str = ""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    # The largest event, line or element a stream decoder may hold (and the
    # largest whole response body); see wire._limits.
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    prompt: tuple[str, ...] | None = None

    @property
    def n(self) -> int:
        return self.params.n or 1


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
    """The failure found so far (a ``ProviderStreamError`` the provider
    reported, or a ``ProtocolError``), or None. Once set, the stream is over:
    the session raises it after delivering the chunks that preceded it."""

    @property
    def complete(self) -> bool:
        """True once the provider signalled the end of the stream (a final
        event, ``[DONE]``, every choice finished), so that a body ending
        before then is reported as ``IncompleteStreamError``."""
        ...

    def feed(self, data: bytes) -> list[StreamChunk]:
        """One network read of the body, split anywhere (inside an event, a
        UTF-8 character or a JSON string): the chunks it completed, in order.
        Must not raise for anything the server sent: a failure goes into
        ``error``, after the chunks decoded before it. Its cost must be linear
        in the bytes fed, and what it keeps bounded by ``Call.max_event_bytes``."""
        ...

    def flush(self) -> list[StreamChunk]:
        """The body ended: the chunks of a last event that lacked its
        terminator, or of a whole (non-streamed) body sent instead of a
        stream. Failures go into ``error`` as for ``feed``."""
        ...


class Codec(Protocol):
    """A wire format, sans-IO: what to send for a ``Call`` and how to read
    what comes back. Endpoints (base URL, auth header, environment variables)
    are the ``Provider``'s, so one codec serves every vendor of its format.
    Register a provider with ``register_provider`` (or the ``rill.providers``
    entry-point group); see "Adding a provider" in ``docs/guide.md``."""

    name: str
    """The format's name (``openai-chat``, ``anthropic``, ...): messages carry
    it as their origin, so state only this format understands (signatures,
    items) is sent back only to it."""

    supported_params: ParamTable
    """The common parameters this format takes, each mapped to its wire key,
    to a function that renders it, or to ``Refused`` (see ``_param_support``).
    ``build_body`` renders them with ``render_params``, which refuses at the
    call any set parameter missing here."""

    def build_body(self, call: Call) -> dict[str, Any]:
        """The JSON request body for ``call``: messages, tools and
        parameters rendered in this format (``render_params`` with
        ``supported_params``), ``call.extra_body`` merged last. Raises
        ``InvalidRequestError`` for what the format cannot express."""
        ...

    def path(self, call: Call) -> str:
        """The request path under the provider's base URL
        (``/chat/completions``, or one that names the model)."""
        ...

    def stream_decoder(self, call: Call) -> ChunkDecoder:
        """A new decoder for one streamed response to ``call``."""
        ...

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        """A whole non-streamed response body to ``call`` (whose ``provider``
        errors are named after and whose ``max_event_bytes`` bounds what is
        held): one chunk per choice. Raises
        ``ProviderStreamError`` for an error object and ``ProtocolError`` for
        anything else it cannot read (``providers._failures.decode_body``)."""
        ...
