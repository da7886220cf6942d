"""What the emulator should answer, as plain immutable values.

A test says *what* a model replies (``Script`` of ``Reply`` values) and *how*
the bytes travel (pacing, status, ``Fault`` values); the protocol encoders turn
that into a provider's wire format and the server into bytes on a socket. None
of these values knows about either, so one script can be served as OpenAI
today and as another protocol once an encoder for it exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

__all__ = [
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "Reply",
    "Script",
    "ScriptedToolCall",
    "UsageSpec",
    "answering_model",
    "fixed_pieces",
    "split_pieces",
]

# A word with the space before it, one punctuation mark with the space before
# it, a run of whitespace that leaves one space for the next word, or any other
# whitespace. Every character matches some branch, so the pieces rebuild the
# text exactly.
_PIECE = re.compile(r" ?\w+| ?[^\w\s]|\s+?(?= ?\S)|\s+")


def split_pieces(text: str) -> list[str]:
    """Split ``text`` roughly the way a tokenizer would: ``"".join`` of the
    result is always ``text``."""
    return _PIECE.findall(text)


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    """One function call the model makes. ``arguments`` given as a mapping is
    JSON-encoded; ``id`` defaults to ``call_<n>`` numbered within the response."""

    name: str
    arguments: str | Mapping[str, Any] = field(default="", hash=False)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return orjson.dumps(self.arguments).decode()


@dataclass(frozen=True, slots=True)
class Reply:
    """One choice of a response. Reasoning streams before text, then refusal,
    then tool calls. ``reasoning_field`` is the delta key the reasoning uses:
    ``"reasoning_content"`` (DeepSeek) or ``"reasoning"`` (Groq, OpenRouter)."""

    text: str = ""
    reasoning: str = ""
    reasoning_field: str = "reasoning_content"
    refusal: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    finish_reason: str | None = None
    logprobs: bool = False

    @property
    def effective_finish_reason(self) -> str:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


FaultKind = Literal[
    "close_after",
    "stall_after",
    "error_event_after",
    "garbage_after",
    "stall_head",
    "trickle_head",
    "trickle_after",
    "flood_after",
]


@dataclass(frozen=True, slots=True)
class Fault:
    """A deliberate misbehaviour of the server, placed by a body byte offset
    (``after_bytes``) or by a count of frames already sent (``after_events``:
    SSE events, or pieces of a verbatim ``Script.body``), or to the response
    head (``stall_head``, ``trickle_head``). A position past the end of the
    body fires at the end, before the HTTP message is terminated.
    Event-positioned faults apply to streamed (chunked) bodies only. Every
    fault is bounded: none of them can hang the server, and every wait in
    one ends early when the client hangs up.

    Use the constructors rather than the fields."""

    kind: FaultKind
    after_bytes: int = 0
    after_events: int = 0
    seconds: float = 0.0
    error: Mapping[str, Any] | None = field(default=None, hash=False)
    style: Literal["event", "chunk"] = "event"
    data: bytes = b""
    then: Literal["continue", "close"] = "continue"
    count: int = 0
    size: int = 0

    @classmethod
    def close_after(cls, n_bytes: int) -> Fault:
        """Send the first ``n_bytes`` of the body, then close the TCP
        connection without ending the HTTP message."""
        return cls("close_after", after_bytes=_non_negative(n_bytes))

    @classmethod
    def stall_after(cls, n_bytes: int, seconds: float) -> Fault:
        """Send the first ``n_bytes`` of the body, go quiet for ``seconds``,
        then carry on."""
        return cls("stall_after", after_bytes=_non_negative(n_bytes), seconds=seconds)

    @classmethod
    def error_event_after(
        cls,
        n_events: int,
        error: Mapping[str, Any] | None = None,
        style: Literal["event", "chunk"] = "event",
    ) -> Fault:
        """After ``n_events`` frames, report an error in the stream and stop.

        ``style="event"`` (Groq): ``event: error`` + ``data: {"error": ...}``,
        then the body ends with no ``[DONE]``. ``style="chunk"`` (OpenRouter):
        ``data: {"error": ...}`` followed by ``data: [DONE]``."""
        return cls(
            "error_event_after",
            after_events=_non_negative(n_events),
            error=dict(error) if error is not None else None,
            style=style,
        )

    @classmethod
    def garbage_after(
        cls,
        n_events: int,
        data: bytes = b"data: {this is not json\n\n",
        then: Literal["continue", "close"] = "continue",
    ) -> Fault:
        """After ``n_events`` frames, send ``data`` raw, then carry on with the
        stream or close the connection."""
        return cls("garbage_after", after_events=_non_negative(n_events), data=data, then=then)

    @classmethod
    def stall_head(cls, seconds: float) -> Fault:
        """Go quiet for ``seconds`` before the status line: the request was
        received and nothing at all comes back yet."""
        return cls("stall_head", seconds=_duration(seconds))

    @classmethod
    def trickle_head(cls, interval: float = 0.2, size: int = 1) -> Fault:
        """Send the status line and headers ``size`` bytes at a time, pausing
        ``interval`` seconds between pieces (a slow proxy, a server that
        flushes each header). Ends once the head is sent; the body follows
        at full speed."""
        return cls("trickle_head", seconds=_duration(interval), size=_positive(size))

    @classmethod
    def trickle_after(
        cls,
        n_bytes: int,
        data: bytes = b": keep-alive\n\n",
        interval: float = 0.1,
        count: int = 10,
        then: Literal["continue", "close"] = "continue",
    ) -> Fault:
        """Send the first ``n_bytes`` of the body, then ``count`` times: wait
        ``interval`` seconds and send ``data`` raw. Then carry on with the body
        or close the connection.

        ``data`` says what trickles: SSE comments (the default), Anthropic's
        ``event: ping\ndata: {"type":"ping"}\n\n``, or one byte of real body
        text at a time."""
        if not data:
            raise ValueError("trickle_after needs data to send")
        return cls(
            "trickle_after",
            after_bytes=_non_negative(n_bytes),
            data=data,
            seconds=_duration(interval),
            count=_positive(count),
            then=then,
        )

    @classmethod
    def flood_after(cls, n_bytes: int, size: int, prefix: bytes = b"data: ") -> Fault:
        """Send the first ``n_bytes`` of the body, then ``prefix`` and ``size``
        bytes of ``a`` with no line end (an event, line or JSON value that
        never ends), then close the connection. Written in 64 KiB pieces as
        fast as the client reads them."""
        return cls(
            "flood_after", after_bytes=_non_negative(n_bytes), data=prefix, size=_positive(size)
        )


def _positive(n: int) -> int:
    if n <= 0:
        raise ValueError(f"a fault size or count must be > 0, not {n}")
    return n


def _duration(seconds: float) -> float:
    if not seconds >= 0:
        raise ValueError(f"a fault duration must be >= 0, not {seconds}")
    return seconds


def _non_negative(n: int) -> int:
    if n < 0:
        raise ValueError(f"a fault position must be >= 0, not {n}")
    return n


UsageSpec = bool | tuple[int, int] | tuple[int, int, int, int] | None
"""``True``: counted (prompt words, completion pieces); ``(prompt, completion)``
or ``(prompt, completion, reasoning, cached)``: reported as given; ``None`` or
``False``: never reported."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """One scripted response: what to say and how to deliver it."""

    replies: tuple[Reply, ...] = (Reply(),)
    model: str | None = None
    usage: UsageSpec = True
    # A recorded body, served verbatim instead of the encoder's output.
    body: bytes | None = None
    content_type: str = "text/event-stream"
    body_chunk_size: int | None = None
    # Pacing: seconds between the headers and the first body byte, and SSE
    # events per second (None: as fast as the socket takes them).
    ttft: float = 0.0
    tokens_per_second: float | None = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    error_body: bytes | Mapping[str, Any] | None = field(default=None, hash=False)
    faults: tuple[Fault, ...] = ()

    def __post_init__(self) -> None:
        if not self.replies:
            raise ValueError("a Script needs at least one Reply")
        if self.body_chunk_size is not None and self.body_chunk_size <= 0:
            raise ValueError("body_chunk_size must be positive")
        if self.tokens_per_second is not None and self.tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be positive (or None for full speed)")
        if self.ttft < 0:
            raise ValueError("ttft must be >= 0")

    @classmethod
    def of_text(cls, text: str, **kw: Any) -> Script:
        """A single reply of ``text``."""
        return cls(replies=(Reply(text=text),), **kw)

    @classmethod
    def of_tool_calls(
        cls, calls: list[ScriptedToolCall] | tuple[ScriptedToolCall, ...], **kw: Any
    ) -> Script:
        """A single reply that calls ``calls`` (in parallel when several)."""
        return cls(replies=(Reply(tool_calls=tuple(calls)),), **kw)

    @classmethod
    def of_body(cls, body: bytes, **kw: Any) -> Script:
        """Serve ``body`` byte for byte (a recorded stream, or bytes a test made)."""
        return cls(body=body, **kw)

    @classmethod
    def of_status(cls, status: int, **kw: Any) -> Script:
        """An HTTP error response, e.g. ``of_status(429, headers={"retry-after": "1"})``."""
        return cls(status=status, **kw)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the emulator received it. Header names are lower-cased;
    ``json`` is the parsed body, or ``None`` when it is empty or not JSON;
    ``received_at`` is ``time.monotonic()`` when its head and body had
    arrived (to measure the spacing of requests)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    received_at: float = 0.0

    @property
    def params(self) -> dict[str, Any]:
        """The JSON body when it is an object, else an empty dict."""
        return self.json if isinstance(self.json, dict) else {}


def answering_model(script: Script, requested: object) -> str:
    """The model a response names: the script's, else the one asked for."""
    if script.model is not None:
        return script.model
    return requested if isinstance(requested, str) and requested else "rill-emulator"


def fixed_pieces(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` characters (tool-call arguments)."""
    return [text[i : i + size] for i in range(0, len(text), size)]
