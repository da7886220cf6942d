"""Every provider protocol against every server fault, over real HTTP.

For each protocol the emulator speaks (OpenAI chat and text completions, OpenAI Responses,
Anthropic, Gemini as SSE and as a streamed JSON array, Ollama NDJSON, Cohere)
and each fault (cuts at byte offsets, stalls, trickles, floods, bad bytes,
odd statuses, retries, errors in the stream), the call must end in the right
``RillError`` or a successful retry, with ``.partial`` holding exactly the
output in the bytes the server sent (computed here from those bytes, not by
rill), no retry once output was delivered, and no connection left open.

Timing faults run sync and async, and assert both that the bound which should
fire did (elapsed >= bound) and that a different, larger bound did not.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

import rill
from rill.testing import Emulator, Fault, Script
from rill.testing._protocols import encoder_for
from rill.testing._script import RecordedRequest

from .pools import own_sync_pool

TEXT = "héllo wörld 日本語 🙂 one two three four five six seven eight nine ten end"
BOOM = "boom: the model fell over"

# Timing bounds (seconds): the one under test is small, the ones that must not
# fire are much larger, so an elapsed time tells which one fired.
FIRST_TOKEN = 0.25
IDLE = 0.2
TOTAL = 0.4
BIG = 2.0
MARGIN = 0.05  # a timer may fire this much early (clock granularity)
SERVER_WAIT = 5.0  # server-side stalls: longer than any bound, ended by the client hanging up

MODES = ["sync", "sync-default", "async", "async-aiohttp"]
"""Sync over an httpx.Client and over rill's own client (whose chunked bodies
are read from the socket, not through httpx); async over an httpx.AsyncClient,
and over aiohttp."""
SYNC_MODES = ["sync", "sync-default"]


# -- the protocols --------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    name: str
    model: str
    root: bool  # base URL is the server root (True) or ``/v1`` (False)
    path: str
    query: dict[str, str]
    request: dict[str, Any]
    framing: str  # "sse", "ndjson" or "array"
    content_type: str
    text_of: Callable[[Any], str]
    keepalive: bytes
    error_event: bytes
    final_events: int  # how many events at the end make the stream complete
    completions: bool = False  # a text completion (rill.complete*), not chat

    def events(self, script: Script) -> list[bytes]:
        """The encoder's events for ``script``; for the array framing, the
        bare JSON elements (``frames`` adds the brackets and commas)."""
        encoder = encoder_for(self.path)
        assert encoder is not None
        body = orjson.dumps(self.request)
        recorded = RecordedRequest("POST", self.path, self.query, {}, body, self.request)
        frames = encoder.stream(script, recorded, seq=1, created=0)
        if self.framing != "array":
            return frames
        assert frames[0].startswith(b"[") and frames[-1] == b"\n]"
        return [f.removeprefix(b"[").removeprefix(b"\n,\r\n") for f in frames[:-1]]

    def frames(self, events: list[bytes]) -> list[bytes]:
        """The body's pieces, one per event (plus the closing bracket)."""
        if self.framing != "array":
            return list(events)
        return [(b"\n,\r\n" if i else b"[") + e for i, e in enumerate(events)] + [b"\n]"]

    def payload(self, frame: bytes) -> Any:
        """The JSON an event carries, or None (comments, ``[DONE]``, brackets)."""
        if self.framing == "ndjson":
            return orjson.loads(frame) if frame.strip() else None
        if self.framing == "array":
            element = frame.removeprefix(b"[").removeprefix(b"\n,\r\n").strip()
            return orjson.loads(element) if element not in (b"", b"]") else None
        data = [
            line[5:].removeprefix(b" ")
            for line in frame.replace(b"\r\n", b"\n").split(b"\n")
            if line.startswith(b"data:")
        ]
        if not data or data == [b"[DONE]"]:
            return None
        return orjson.loads(b"\n".join(data))

    def text(self, frame: bytes) -> str:
        obj = self.payload(frame)
        return self.text_of(obj) if isinstance(obj, dict) else ""

    def base_url(self, emu: Emulator) -> str:
        """Where the emulator serves this protocol (it routes strictly)."""
        return emu.url + getattr(encoder_for(self.path), "base_path", "")


def _openai_text(obj: dict[str, Any]) -> str:
    choices = obj.get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


def _responses_text(obj: dict[str, Any]) -> str:
    return str(obj["delta"]) if obj.get("type") == "response.output_text.delta" else ""


def _anthropic_text(obj: dict[str, Any]) -> str:
    delta = obj.get("delta") or {}
    ok = obj.get("type") == "content_block_delta" and delta.get("type") == "text_delta"
    return str(delta["text"]) if ok else ""


def _gemini_text(obj: dict[str, Any]) -> str:
    candidates = obj.get("candidates") or [{}]
    parts = (candidates[0].get("content") or {}).get("parts") or []
    return "".join(p.get("text", "") for p in parts if not p.get("thought"))


def _ollama_text(obj: dict[str, Any]) -> str:
    return str((obj.get("message") or {}).get("content") or "")


def _completion_text(obj: dict[str, Any]) -> str:
    choices = obj.get("choices") or [{}]
    return str(choices[0].get("text") or "")


def _cohere_text(obj: dict[str, Any]) -> str:
    if obj.get("type") != "content-delta":
        return ""
    return str(obj["delta"]["message"]["content"].get("text") or "")


_GEMINI_ERROR = b'{"error":{"code":500,"message":"' + BOOM.encode() + b'","status":"INTERNAL"}}'
_GEMINI = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
_GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
_CHAT = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
SSE_COMMENT = b": keep-alive\n\n"

PROTOCOLS = {
    p.name: p
    for p in [
        Protocol(
            "openai",
            "openai/gpt-4o-mini",
            False,
            "/v1/chat/completions",
            {},
            _CHAT,
            "sse",
            "text/event-stream",
            _openai_text,
            SSE_COMMENT,
            b'data: {"error":{"message":"' + BOOM.encode() + b'","type":"server_error"}}\n\n',
            2,  # the finish_reason chunk and [DONE]
        ),
        Protocol(
            "completions",
            "vllm/m",
            False,
            "/v1/completions",
            {},
            {
                "model": "m",
                "stream": True,
                "prompt": "Hi",
                "stream_options": {"include_usage": True},
            },
            "sse",
            "text/event-stream",
            _completion_text,
            SSE_COMMENT,
            b'data: {"error":{"message":"' + BOOM.encode() + b'","type":"server_error"}}\n\n',
            3,  # the last text (with finish_reason), the usage chunk and [DONE]
            completions=True,
        ),
        Protocol(
            "responses",
            "openai-responses/gpt-5",
            False,
            "/v1/responses",
            {},
            {"model": "m", "stream": True, "input": "Hi"},
            "sse",
            "text/event-stream",
            _responses_text,
            SSE_COMMENT,
            b'event: error\ndata: {"type":"error","code":"server_error","message":"'
            + BOOM.encode()
            + b'","param":null,"sequence_number":90}\n\n',
            1,  # response.completed
        ),
        Protocol(
            "anthropic",
            "anthropic/claude-sonnet-4-5",
            True,
            "/v1/messages",
            {},
            _CHAT,
            "sse",
            "text/event-stream",
            _anthropic_text,
            b'event: ping\ndata: {"type": "ping"}\n\n',
            b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"'
            + BOOM.encode()
            + b'"}}\n\n',
            1,  # message_stop
        ),
        Protocol(
            "gemini-sse",
            "gemini/gemini-2.5-flash",
            True,
            _GEMINI_PATH,
            {"alt": "sse"},
            _GEMINI,
            "sse",
            "text/event-stream",
            _gemini_text,
            SSE_COMMENT,
            b"data: " + _GEMINI_ERROR + b"\r\n\r\n",
            1,  # the chunk with finishReason
        ),
        Protocol(
            "gemini-array",
            "gemini/gemini-2.5-flash",
            True,
            _GEMINI_PATH,
            {},
            _GEMINI,
            "array",
            "application/json",
            _gemini_text,
            b"\n",  # whitespace between elements: all a JSON array allows
            _GEMINI_ERROR,
            1,
        ),
        Protocol(
            "ollama",
            "ollama/qwen3",
            True,
            "/api/chat",
            {},
            {"model": "m", "messages": [{"role": "user", "content": "Hi"}]},
            "ndjson",
            "application/x-ndjson",
            _ollama_text,
            # Ollama has no keep-alive: an empty delta is the nearest thing.
            b'{"model":"m","created_at":"1970-01-01T00:00:00Z",'
            b'"message":{"role":"assistant","content":""},"done":false}\n',
            b'{"error":"' + BOOM.encode() + b'"}\n',
            1,  # the done line
        ),
        Protocol(
            "cohere",
            "cohere/command-a",
            True,
            "/v2/chat",
            {},
            _CHAT,
            "sse",
            "text/event-stream",
            _cohere_text,
            SSE_COMMENT,
            b'event: error\ndata: {"type":"error","message":"' + BOOM.encode() + b'"}\n\n',
            2,  # message-end and [DONE]
        ),
    ]
}


@dataclass(frozen=True)
class Stream:
    """One protocol's scripted stream, as events and the body they make."""

    protocol: Protocol
    events: list[bytes]

    @property
    def frames(self) -> list[bytes]:
        return self.protocol.frames(self.events)

    @property
    def body(self) -> bytes:
        return b"".join(self.frames)

    def ends(self) -> list[int]:
        """The body offset where each frame ends."""
        out, at = [], 0
        for frame in self.frames:
            at += len(frame)
            out.append(at)
        return out

    def first_output(self) -> int:
        """Index of the first frame that carries text."""
        return next(i for i, f in enumerate(self.frames) if self.protocol.text(f))

    def received_text(self, n: int) -> set[str]:
        """The text in the first ``n`` body bytes: the frames received whole.
        NDJSON's last line may count without its newline (two answers)."""
        text, start = "", 0
        for frame, end in zip(self.frames, self.ends(), strict=True):
            if end > n:
                tail = frame[n - start :]
                if self.protocol.framing == "ndjson" and n > start and not tail.strip():
                    return {text, text + self.protocol.text(frame)}
                break
            text += self.protocol.text(frame)
            start = end
        return {text}

    def with_events(self, index: int, *extra: bytes, drop: int = 0) -> bytes:
        """The body with ``extra`` events at ``index`` and ``drop`` events
        removed after them."""
        events = [*self.events[:index], *extra, *self.events[index + drop :]]
        return b"".join(self.protocol.frames(events))


def stream_of(name: str, text: str = TEXT) -> Stream:
    protocol = PROTOCOLS[name]
    return Stream(protocol, protocol.events(Script.of_text(text)))


# -- running a call --------------------------------------------------------------


@dataclass
class Outcome:
    received: list[str]  # chunk contents, in order
    response: rill.GenerationResponse | None
    error: BaseException | None
    elapsed: float
    closed: bool | None  # server side: no connection open right after the failure
    requests: int  # requests the server saw for this call

    @property
    def content(self) -> str:
        return "".join(self.received)

    def failed(self, *error_types: type[BaseException]) -> BaseException:
        """The error, a ``RillError`` of one of ``error_types``."""
        names = " or ".join(t.__name__ for t in error_types)
        assert self.error is not None, f"expected {names}, the call succeeded"
        assert isinstance(self.error, rill.RillError), repr(self.error)
        assert isinstance(self.error, error_types), f"expected {names}: {self.error!r}"
        return self.error

    def partial(self) -> rill.GenerationResponse:
        """The error's ``.partial``: present, and what the caller was given."""
        partial = getattr(self.error, "partial", None)
        assert isinstance(partial, rill.GenerationResponse), f"no .partial on {self.error!r}"
        assert partial.content == self.content, "partial differs from the chunks yielded"
        return partial

    def timed_out(self, phase: str, bound: float, below: float) -> None:
        error = self.failed(rill.TimeoutError)
        assert isinstance(error, rill.TimeoutError)
        assert error.phase == phase, f"{error.phase} fired, not {phase}: {error}"
        assert self.elapsed >= bound - MARGIN, f"{phase} fired early: {self.elapsed:.3f}s"
        assert self.elapsed < below, f"{phase} fired late: {self.elapsed:.3f}s >= {below}s"


def call(
    emu: Emulator,
    name: str,
    mode: str,
    *scripts: Script,
    strict: bool = False,
    max_retries: int = 0,
    **options: Any,
) -> Outcome:
    """Serve ``scripts``, make one streamed call, then check from the server's
    side that no connection leaked: with ``strict`` (the server is still
    sending), the failed call's connection must be closed at once; in any case
    a second call on the same client must not need a new connection beside a
    leaked one, and closing the client closes everything."""
    protocol = PROTOCOLS[name]
    emu.enqueue(*scripts)
    before = len(emu.requests)
    kwargs: dict[str, Any] = {
        "model": protocol.model,
        "base_url": protocol.base_url(emu),
        "api_key": "test",
        "max_retries": max_retries,
        **options,
    }
    received: list[str] = []
    entry = "complete" if protocol.completions else "generate"
    if mode.startswith("sync"):
        outcome = _call_sync(emu, kwargs, received, strict, entry, mode)
    else:
        outcome = asyncio.run(_call_async(emu, kwargs, received, strict, mode, entry))
    outcome.requests = len(emu.requests) - before - 1  # less the probe
    assert emu.wait_closed(timeout=2), "a connection stayed open after the client closed"
    return outcome


def _call_sync(
    emu: Emulator, kwargs: dict[str, Any], received: list[str], strict: bool, entry: str, mode: str
) -> Outcome:
    """``entry`` is ``generate`` (chat) or ``complete`` (text completions)."""
    response, error = None, None
    stream_of, whole = getattr(rill, f"{entry}_stream"), getattr(rill, entry)
    with _sync_client(mode) as http:
        started = time.perf_counter()
        try:
            stream = stream_of("Hi", http_client=http, **kwargs)
            for chunk in stream:
                received.append(chunk.content)
            response = stream.response
        except Exception as exc:
            error = exc
        elapsed = time.perf_counter() - started
        closed = emu.wait_closed(timeout=1) if strict and error is not None else None
        _probe(emu, kwargs, whole("Hi", http_client=http, **kwargs))
    return Outcome(received, response, error, elapsed, closed, 0)


@contextmanager
def _sync_client(mode: str) -> Iterator[httpx.Client | None]:
    """An httpx.Client of the test's, or None for rill's own pooled client
    (a new one, closed afterwards like the test's)."""
    if mode == "sync":
        with httpx.Client(timeout=None) as http:
            yield http
    else:
        with own_sync_pool():
            yield None


async def _call_async(
    emu: Emulator, kwargs: dict[str, Any], received: list[str], strict: bool, mode: str, entry: str
) -> Outcome:
    response, error = None, None
    stream_of, whole = getattr(rill, f"a{entry}_stream"), getattr(rill, f"a{entry}")
    client = aiohttp.ClientSession() if mode == "async-aiohttp" else httpx.AsyncClient(timeout=None)
    async with client as http:
        started = time.perf_counter()
        try:
            stream = stream_of("Hi", http_client=http, **kwargs)
            async for chunk in stream:
                received.append(chunk.content)
            response = stream.response
        except Exception as exc:
            error = exc
        elapsed = time.perf_counter() - started
        closed = await emu.await_closed(timeout=1) if strict and error is not None else None
        _probe(emu, kwargs, await whole("Hi", http_client=http, **kwargs))
    return Outcome(received, response, error, elapsed, closed, 0)


def _probe(emu: Emulator, kwargs: dict[str, Any], response: rill.GenerationResponse) -> None:
    """After a second call (the emulator's default script), one connection at
    most is open: the pooled one. A leaked connection makes it two."""
    assert response.content
    deadline = time.monotonic() + 1.0
    while emu.open_connections > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.open_connections <= 1, "the failed call's connection leaked"


def no_leak(outcome: Outcome) -> None:
    assert outcome.closed is not False, "the client did not close the connection it gave up on"


def body_script(stream: Stream, body: bytes | None = None, **kw: Any) -> Script:
    return Script.of_body(
        stream.body if body is None else body, content_type=stream.protocol.content_type, **kw
    )


# -- cuts at byte offsets ---------------------------------------------------------


def _cut_offsets(name: str) -> Iterator[tuple[str, int]]:
    """Where to cut one protocol's body: inside a multi-byte character, inside
    a JSON string, exactly between events, and at two seeded random offsets."""
    stream = stream_of(name)
    body, ends = stream.body, stream.ends()
    rng = random.Random(f"cut-{name}")
    multibyte = [i for i, b in enumerate(body) if 0x80 <= b < 0xC0]  # continuation bytes
    yield "multibyte", rng.choice(multibyte)
    first = stream.first_output()
    start = ends[first]
    piece = stream.protocol.text(stream.frames[first + 1])
    quoted = orjson.dumps(piece)[:-1]
    yield "in-string", start + stream.frames[first + 1].index(quoted) + 2
    yield "between", ends[first + 1]
    for i in range(2):
        yield f"random{i}", rng.randrange(1, len(body))


CUTS = [(name, label, n) for name in PROTOCOLS for label, n in _cut_offsets(name)]


@pytest.mark.parametrize("mode", SYNC_MODES)
@pytest.mark.parametrize(
    ("name", "offset"),
    [pytest.param(name, n, id=f"{name}-{label}") for name, label, n in CUTS],
)
def test_cut_at_a_byte_offset(rill_emulator: Emulator, mode: str, name: str, offset: int) -> None:
    stream = stream_of(name)
    expected = stream.received_text(offset)
    before_output = expected == {""}
    out = call(
        rill_emulator,
        name,
        mode,
        body_script(stream, faults=(Fault.close_after(offset),)),
        Script.of_text(TEXT),  # what a wrong retry would get
        max_retries=2,
    )
    if before_output and out.error is None:  # retrying before any output is allowed
        assert out.response is not None and out.response.content == TEXT
        return
    out.failed(rill.IncompleteStreamError)
    assert out.partial().content in expected
    assert out.partial().finish_reason is None
    if not before_output:
        assert out.requests == 1, "retried after output was delivered"


# -- timing faults -------------------------------------------------------------------


def first_output_end(stream: Stream) -> int:
    return stream.ends()[stream.first_output()]


def first_output_start(stream: Stream) -> int:
    return stream.ends()[stream.first_output()] - len(stream.frames[stream.first_output()])


def timeouts(
    first_token: float = BIG, idle: float = BIG, total: float | None = BIG + 1
) -> rill.Timeouts:
    return rill.Timeouts(connect=BIG, first_token=first_token, idle=idle, total=total)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("where", ["before-headers", "before-body"])
def test_stall_before_the_first_byte(
    rill_emulator: Emulator, name: str, mode: str, where: str
) -> None:
    stream = stream_of(name)
    if where == "before-headers":
        script = body_script(stream, faults=(Fault.stall_head(SERVER_WAIT),))
    else:
        script = body_script(stream, ttft=SERVER_WAIT)
    out = call(
        rill_emulator, name, mode, script, strict=True, timeout=timeouts(first_token=FIRST_TOKEN)
    )
    out.timed_out("first_token", FIRST_TOKEN, below=BIG)
    no_leak(out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_trickled_headers(rill_emulator: Emulator, name: str, mode: str) -> None:
    """Each piece of the head comes well within ``first_token`` of the last:
    only a deadline for the whole wait catches it."""
    stream = stream_of(name)
    script = body_script(stream, faults=(Fault.trickle_head(interval=0.1, size=4),))
    out = call(
        rill_emulator, name, mode, script, strict=True, timeout=timeouts(first_token=FIRST_TOKEN)
    )
    out.timed_out("first_token", FIRST_TOKEN, below=BIG)
    no_leak(out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_keepalives_before_the_first_output(rill_emulator: Emulator, name: str, mode: str) -> None:
    stream = stream_of(name)
    protocol = stream.protocol
    trickle = Fault.trickle_after(
        first_output_start(stream), data=protocol.keepalive, interval=0.05, count=100
    )
    out = call(
        rill_emulator,
        name,
        mode,
        body_script(stream, faults=(trickle,)),
        strict=True,
        timeout=timeouts(first_token=FIRST_TOKEN),
    )
    out.timed_out("first_token", FIRST_TOKEN, below=BIG)
    assert out.partial().content == ""
    no_leak(out)


def _after_output(name: str, fault: Callable[[Stream], Fault]) -> tuple[Stream, Script]:
    stream = stream_of(name)
    return stream, body_script(stream, faults=(fault(stream),))


IDLE_FAULTS: dict[str, Callable[[Stream], Fault]] = {
    "stall": lambda s: Fault.stall_after(first_output_end(s), SERVER_WAIT),
    "keepalives": lambda s: Fault.trickle_after(
        first_output_end(s), data=s.protocol.keepalive, interval=0.05, count=100
    ),
    # The next event arrives a byte at a time, from inside its JSON string.
    "bytes-of-an-event": lambda s: Fault.trickle_after(
        first_output_end(s)
        + s.frames[s.first_output() + 1].index(
            orjson.dumps(s.protocol.text(s.frames[s.first_output() + 1]))[:-1]
        )
        + 2,
        data=b"a",
        interval=0.05,
        count=100,
        then="close",
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("fault", IDLE_FAULTS)
def test_idle_after_the_first_output(
    rill_emulator: Emulator, name: str, mode: str, fault: str
) -> None:
    """Output, then no progress: ``idle`` fires near its bound, long before
    ``first_token`` (already satisfied) or ``total`` would."""
    stream, script = _after_output(name, IDLE_FAULTS[fault])
    out = call(
        rill_emulator,
        name,
        mode,
        script,
        Script.of_text(TEXT),
        strict=True,
        max_retries=2,
        timeout=timeouts(idle=IDLE),
    )
    out.timed_out("idle", IDLE, below=BIG)
    first = stream.protocol.text(stream.frames[stream.first_output()])
    assert out.partial().content == first
    assert out.requests == 1
    no_leak(out)


EMPTY_DELTAS = {
    "openai": b'data: {"id":"x","object":"chat.completion.chunk","created":0,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}\n\n',
    "completions": b'data: {"id":"x","object":"text_completion","created":0,"model":"m",'
    b'"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":null}]}\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":""}}\n\n',
    "gemini-sse": b'data: {"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},'
    b'"index":0}]}\r\n\r\n',
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", EMPTY_DELTAS)
def test_empty_deltas_are_not_progress(rill_emulator: Emulator, name: str, mode: str) -> None:
    stream = stream_of(name)
    fault = Fault.trickle_after(
        first_output_end(stream), data=EMPTY_DELTAS[name], interval=0.05, count=100
    )
    out = call(
        rill_emulator,
        name,
        mode,
        body_script(stream, faults=(fault,)),
        strict=True,
        timeout=timeouts(idle=IDLE),
    )
    out.timed_out("idle", IDLE, below=BIG)
    assert out.partial().content == stream.protocol.text(stream.frames[stream.first_output()])
    no_leak(out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_total_while_output_keeps_coming(rill_emulator: Emulator, name: str, mode: str) -> None:
    """An output every 50 ms: neither ``idle`` nor ``first_token`` fires,
    ``total`` does."""
    stream = stream_of(name)
    tick = stream_of(name, "a x").events[stream_of(name, "a x").first_output() + 1]
    tick_frame = stream.protocol.frames([b"{}", tick])[1]
    fault = Fault.trickle_after(first_output_end(stream), data=tick_frame, interval=0.05, count=100)
    out = call(
        rill_emulator,
        name,
        mode,
        body_script(stream, faults=(fault,)),
        Script.of_text(TEXT),
        strict=True,
        max_retries=2,
        timeout=timeouts(first_token=BIG, idle=IDLE, total=TOTAL),
    )
    out.timed_out("total", TOTAL, below=BIG)
    first = stream.protocol.text(stream.frames[stream.first_output()])
    content = out.partial().content
    ticks = (len(content) - len(first)) // 2
    assert ticks >= 1 and content == first + " x" * ticks
    assert out.requests == 1
    no_leak(out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["openai", "anthropic", "ollama"])
def test_total_counts_retries_and_backoff(rill_emulator: Emulator, name: str, mode: str) -> None:
    """Two quick 500s (100 ms Retry-After each), then a stalled body: ``total``
    fires at its bound from the start of the call, not of the last attempt."""
    stream = stream_of(name)
    again = {"retry-after-ms": "100"}
    total = 0.6
    out = call(
        rill_emulator,
        name,
        mode,
        Script.of_status(500, headers=again),
        Script.of_status(500, headers=again),
        body_script(stream, ttft=SERVER_WAIT),
        strict=True,
        max_retries=3,
        timeout=timeouts(first_token=BIG, idle=BIG, total=total),
    )
    # Restarting the clock per attempt would make it >= 0.2 s later.
    out.timed_out("total", total, below=total + 0.18)
    assert out.requests == 3
    no_leak(out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_retry_after_beyond_the_total_raises_at_once(
    rill_emulator: Emulator, name: str, mode: str
) -> None:
    out = call(
        rill_emulator,
        name,
        mode,
        Script.of_status(429, headers={"retry-after": "5"}),
        body_script(stream_of(name)),
        max_retries=3,
        timeout=timeouts(total=1.0),
    )
    error = out.failed(rill.RateLimitError)
    assert isinstance(error, rill.RateLimitError) and error.retry_after == 5.0
    assert out.elapsed < 0.5
    assert out.requests == 1


# -- retries that succeed --------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_rate_limited_then_success(rill_emulator: Emulator, name: str, mode: str) -> None:
    # Retry-After in whole seconds once; the millisecond form elsewhere, for speed.
    slow = name == "openai" and mode == "sync"
    headers, wait = ({"retry-after": "1"}, 1.0) if slow else ({"retry-after-ms": "300"}, 0.3)
    stream = stream_of(name)
    out = call(
        rill_emulator,
        name,
        mode,
        Script.of_status(429, headers=headers),
        body_script(stream),
        max_retries=2,
    )
    assert out.error is None, repr(out.error)
    assert out.response is not None and out.response.content == TEXT == out.content
    assert out.elapsed >= wait - MARGIN
    assert out.requests == 2


@pytest.mark.parametrize("mode", SYNC_MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_server_errors_twice_then_success(rill_emulator: Emulator, mode: str, name: str) -> None:
    stream = stream_of(name)
    now = {"retry-after": "0"}
    out = call(
        rill_emulator,
        name,
        mode,
        Script.of_status(500, headers=now),
        Script.of_status(500, headers=now),
        body_script(stream),
        max_retries=2,
    )
    assert out.error is None, repr(out.error)
    assert out.response is not None and out.response.content == TEXT == out.content
    assert out.requests == 3


# -- bad bytes -------------------------------------------------------------------------------


def _malformed(s: Stream) -> bytes:
    return {"sse": b"data: {this is not json\n\n", "ndjson": b"{this is not json\n"}.get(
        s.protocol.framing, b"{this is not json}"
    )


def _invalid_utf8(s: Stream) -> bytes:
    event = s.events[s.first_output() + 1]
    piece = s.protocol.text(event).encode()
    return event.replace(piece, piece[:2] + b"\xff\xfe" + piece[2:])


def _truncated(s: Stream) -> bytes:
    event = s.events[s.first_output() + 1]
    body = event.rstrip(b"\r\n")
    return body[: len(body) // 2] + event[len(body) :]


BAD_EVENTS: dict[str, Callable[[Stream], bytes]] = {
    "malformed": _malformed,
    "invalid-utf8": _invalid_utf8,
    "truncated-json": _truncated,
}


@pytest.mark.parametrize("mode", SYNC_MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("bad", BAD_EVENTS)
def test_bad_event_after_output(rill_emulator: Emulator, mode: str, name: str, bad: str) -> None:
    stream = stream_of(name)
    at = stream.first_output() + 1
    out = call(
        rill_emulator,
        name,
        mode,
        body_script(stream, stream.with_events(at, BAD_EVENTS[bad](stream))),
        Script.of_text(TEXT),
        max_retries=2,
    )
    if bad == "truncated-json" and stream.protocol.framing == "array":
        # Nothing ends an array element but its own braces: the rest of the
        # body reads as its continuation, and the array never closes.
        out.failed(rill.ProtocolError, rill.IncompleteStreamError)
    else:
        out.failed(rill.ProtocolError)
    assert out.partial().content == stream.protocol.text(stream.frames[at - 1])
    assert out.requests == 1


def _max_event_option() -> bool:
    from rill._request import RequestOptions

    return "max_event_bytes" in RequestOptions.__optional_keys__


@pytest.mark.parametrize("mode", SYNC_MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_endless_line(rill_emulator: Emulator, mode: str, name: str) -> None:
    stream = stream_of(name)
    options: dict[str, Any] = {"timeout": timeouts(total=10.0)}
    if _max_event_option():
        options["max_event_bytes"] = 64 * 1024
        size = 1024 * 1024
    else:  # beyond the 16 MiB default
        size = 20 * 1024 * 1024
    prefix = {"sse": b"data: ", "ndjson": b'{"message":{"content":"'}.get(
        stream.protocol.framing, b'\n,\r\n{"candidates":"'
    )
    fault = Fault.flood_after(first_output_end(stream), size=size, prefix=prefix)
    out = call(rill_emulator, name, mode, body_script(stream, faults=(fault,)), **options)
    out.failed(rill.ProtocolError)
    assert out.partial().content == stream.protocol.text(stream.frames[stream.first_output()])


# -- statuses and bodies that are not a stream --------------------------------------------

HTML = (
    b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n"
    b"<body><h1>Please try again later</h1></body></html>\n"
)


@pytest.mark.parametrize("mode", SYNC_MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_html_page_with_status_200(rill_emulator: Emulator, mode: str, name: str) -> None:
    out = call(
        rill_emulator, name, mode, Script.of_body(HTML, content_type="text/html; charset=utf-8")
    )
    out.failed(rill.ProtocolError, rill.IncompleteStreamError)
    assert out.partial().content == ""


@pytest.mark.parametrize("mode", SYNC_MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("status", [200, 204])
def test_empty_body(rill_emulator: Emulator, mode: str, name: str, status: int) -> None:
    stream = stream_of(name)
    out = call(rill_emulator, name, mode, body_script(stream, b"", status=status))
    error = out.failed(rill.RemoteError)
    assert str(status) in str(error), str(error)
    partial = getattr(error, "partial", None)
    assert partial is None or partial.content == ""


@pytest.mark.parametrize("mode", SYNC_MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("status", [302, 307])
def test_redirect_is_not_followed(
    rill_emulator: Emulator, mode: str, name: str, status: int
) -> None:
    protocol = PROTOCOLS[name]
    location = f"{rill_emulator.url}/moved{protocol.path}"
    script = Script.of_body(
        b"<html>Moved</html>",
        status=status,
        content_type="text/html",
        headers={"Location": location},
    )
    out = call(rill_emulator, name, mode, script, max_retries=2)
    error = out.failed(rill.APIStatusError)
    assert isinstance(error, rill.APIStatusError) and error.status_code == status
    assert str(status) in str(error) and location in str(error), str(error)
    assert out.requests == 1
    assert not any(r.path.startswith("/moved") for r in rill_emulator.requests)


# -- errors in the stream, and streams that stop short -------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("when", ["before-output", "after-output"])
def test_error_event(rill_emulator: Emulator, name: str, mode: str, when: str) -> None:
    stream = stream_of(name)
    at = stream.first_output() + (when == "after-output")
    body = stream.with_events(at, stream.protocol.error_event, drop=len(stream.events))
    out = call(
        rill_emulator,
        name,
        mode,
        body_script(stream, body),
        max_retries=0,
    )
    error = out.failed(rill.ProviderStreamError)
    assert BOOM in str(error)
    expected = stream.protocol.text(stream.frames[at - 1]) if when == "after-output" else ""
    assert out.partial().content == expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROTOCOLS)
def test_clean_end_without_the_final_event(rill_emulator: Emulator, name: str, mode: str) -> None:
    stream = stream_of(name)
    drop = stream.protocol.final_events
    keep = len(stream.events) - drop
    body = stream.with_events(keep, drop=drop)
    out = call(rill_emulator, name, mode, body_script(stream, body), max_retries=2)
    out.failed(rill.IncompleteStreamError)
    expected = "".join(stream.protocol.text(e) for e in stream.events[:keep])
    assert out.partial().content == expected
    assert out.requests == 1
