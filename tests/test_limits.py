"""The maximum event size of the sans-IO decoders: an event, line or element
that never ends is a ``ProtocolError`` once it passes the limit, however the
bytes are split, and the decoder's memory stays bounded."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from rill import ProtocolError
from rill.wire import JSONArrayDecoder, NDJSONDecoder, SSEDecoder
from rill.wire._limits import DEFAULT_MAX_EVENT_BYTES

from .memory import peak

LIMIT = 1000


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def sse(data: bytes, size: int, limit: int = LIMIT) -> list[Any]:
    decoder = SSEDecoder(max_event_size=limit)
    out: list[Any] = []
    for piece in pieces(data, size):
        out += decoder.decode(piece)
    return out + decoder.flush()


def ndjson(data: bytes, size: int, limit: int = LIMIT) -> list[Any]:
    decoder = NDJSONDecoder(max_line_size=limit)
    out: list[Any] = []
    for piece in pieces(data, size):
        out += decoder.decode(piece)
    return out + decoder.flush()


def array(data: bytes, size: int, limit: int = LIMIT) -> list[Any]:
    decoder = JSONArrayDecoder(max_element_size=limit)
    out: list[Any] = []
    for piece in pieces(data, size):
        out += decoder.decode(piece)
    return out + decoder.flush()


SIZES = [1, 7, 64, 999, 1000, 1001, 10**9]  # 10**9: the whole input in one chunk


def sse_event(size: int) -> bytes:
    """An event of exactly ``size`` bytes: its line and LF, not the blank line."""
    return b"data: " + b"x" * (size - 7) + b"\n"


def ndjson_line(size: int) -> bytes:
    """A line of exactly ``size`` bytes, its LF not counted."""
    return b'"' + b"x" * (size - 2) + b'"'


def array_element(size: int) -> bytes:
    return b'{"a":"' + b"x" * (size - 8) + b'"}'


@pytest.mark.parametrize("size", SIZES)
def test_sse_event_at_the_limit_passes(size: int) -> None:
    body = b"data: 1\n\n" + sse_event(LIMIT) + b"\n" + b"data: 2\n\n"
    events = sse(body, size)
    assert [len(e.data) for e in events] == [1, LIMIT - 7, 1]
    # ... and a last event without its blank line, delivered by flush().
    assert len(sse(sse_event(LIMIT), size)) == 1


@pytest.mark.parametrize("size", SIZES)
def test_sse_event_over_the_limit_fails(size: int) -> None:
    for body in (
        b"data: 1\n\n" + sse_event(LIMIT + 1) + b"\n",  # complete
        b"data: 1\n\n" + sse_event(LIMIT + 1),  # no blank line: flush()
        b"data: 1\n\n" + b"data: " + b"x" * 10 * LIMIT,  # a line that never ends
        b": comment\n" * LIMIT,  # many short lines that never make an event
    ):
        with pytest.raises(ProtocolError, match=r"limit of 1000 bytes.*max_event_bytes="):
            sse(body, size)


def test_sse_endless_event_fails_as_soon_as_it_passes_the_limit() -> None:
    decoder = SSEDecoder(max_event_size=LIMIT)
    fed = 0
    with pytest.raises(ProtocolError):
        for piece in pieces(b"data: " + b"x" * 100 * LIMIT, 10):
            decoder.decode(piece)
            fed += len(piece)
    assert LIMIT - 10 <= fed <= LIMIT


def test_sse_events_before_a_long_tail_are_delivered() -> None:
    decoder = SSEDecoder(max_event_size=LIMIT)
    events = decoder.decode(b"data: 1\n\ndata: " + b"x" * 2 * LIMIT)
    assert [e.data for e in events] == ["1"]
    with pytest.raises(ProtocolError):
        decoder.decode(b"x")


@pytest.mark.parametrize("size", SIZES)
def test_ndjson_line_at_the_limit_passes(size: int) -> None:
    body = b"1\r\n" + ndjson_line(LIMIT) + b"\n2\n" + ndjson_line(LIMIT)
    assert [len(v) if isinstance(v, str) else v for v in ndjson(body, size)] == [
        1,
        LIMIT - 2,
        2,
        LIMIT - 2,
    ]


@pytest.mark.parametrize("size", SIZES)
def test_ndjson_line_over_the_limit_fails(size: int) -> None:
    for body in (
        b"1\n" + ndjson_line(LIMIT + 1) + b"\n2\n",  # complete
        b"1\n" + ndjson_line(LIMIT + 1),  # no LF: flush()
        b"1\n" + b" " * 10 * LIMIT,  # a line that never ends
    ):
        with pytest.raises(ProtocolError, match=r"limit of 1000 bytes.*max_event_bytes="):
            ndjson(body, size)


def test_ndjson_endless_line_fails_as_soon_as_it_passes_the_limit() -> None:
    decoder = NDJSONDecoder(max_line_size=LIMIT)
    fed = 0
    with pytest.raises(ProtocolError):
        for piece in pieces(b"[" + b"1," * 100 * LIMIT, 10):
            decoder.decode(piece)
            fed += len(piece)
    assert LIMIT - 10 <= fed <= LIMIT


@pytest.mark.parametrize("size", SIZES)
def test_array_element_at_the_limit_passes(size: int) -> None:
    body = b"[1,\r\n" + array_element(LIMIT) + b"\n,\r\n" + array_element(LIMIT) + b",2]"
    assert [len(v["a"]) if isinstance(v, dict) else v for v in array(body, size)] == [
        1,
        LIMIT - 8,
        LIMIT - 8,
        2,
    ]


@pytest.mark.parametrize("size", SIZES)
def test_array_element_over_the_limit_fails(size: int) -> None:
    for body in (
        b"[1," + array_element(LIMIT + 1) + b",2]",  # complete
        b"[1," + b"1" * (LIMIT + 1) + b",2]",  # a scalar
        b"[1," + b'{"a": [' * LIMIT,  # an element that never ends
        b"[1," + b" " * 10 * LIMIT,  # nor does the space between elements
    ):
        with pytest.raises(ProtocolError, match=r"limit of 1000 bytes.*max_event_bytes="):
            array(body, size)


def test_array_elements_before_a_long_one_are_delivered_then_the_error_stays() -> None:
    decoder = JSONArrayDecoder(max_element_size=LIMIT)
    assert decoder.decode(b"[1, 2, " + b"[0," * LIMIT) == [1, 2]
    for _ in range(2):
        with pytest.raises(ProtocolError):
            decoder.decode(b"0")


def test_default_limit() -> None:
    assert DEFAULT_MAX_EVENT_BYTES == 16 * 1024 * 1024
    body = b"data: " + b"x" * (DEFAULT_MAX_EVENT_BYTES - 7) + b"\n\n"
    [event] = SSEDecoder().decode(body)  # exactly the limit, in one chunk
    assert len(event.data) == DEFAULT_MAX_EVENT_BYTES - 7
    with pytest.raises(ProtocolError):
        SSEDecoder().decode(b"data: x" + body)


_ENDLESS = """
chunk = {chunk}
fed = 0
try:
    while fed < 1 << 28:  # 256 MiB: far past the limit, if it failed to hold
        decoder.{method}(bytes(bytearray(chunk)))  # a new object, as each read is
        fed += len(chunk)
    result = "no-error"
except ProtocolError:
    result = fed
"""

_MB = 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ")
@pytest.mark.parametrize(
    ("decoder", "chunk", "method"),
    [
        ("SSEDecoder()", "b'data: ' + b'x' * (64 * 1024 - 6)", "decode_raw"),
        ("SSEDecoder()", "b': ping\\n' * (8 * 1024)", "decode_raw"),
        ("NDJSONDecoder()", "b'[' + b'1,' * (32 * 1024 - 1) + b'1'", "lines"),
        ("JSONArrayDecoder()", "b'[' + b'[1,' * (21 * 1024)", "decode"),
    ],
)
def test_endless_input_keeps_memory_bounded(decoder: str, chunk: str, method: str) -> None:
    setup = f"""
        from rill import ProtocolError
        from rill.wire import JSONArrayDecoder, NDJSONDecoder, SSEDecoder
        decoder = {decoder}
    """
    before, after, result = peak(setup, _ENDLESS.format(chunk=chunk, method=method))
    assert result != "no-error"
    # It failed once it held the limit, give or take one chunk.
    assert abs(int(result) - DEFAULT_MAX_EVENT_BYTES) <= 1 << 16
    # The limit, a copy of it when the decoder joins its pieces, and slack.
    assert after - before < 80 * _MB, f"peak RSS grew by {(after - before) // _MB} MB"


# Every codec's stream decoder takes its limit from ``Call.max_event_bytes``.

_CODECS = [
    ("rill.providers._openai_chat", "OpenAIChatCodec", b"data: "),
    ("rill.providers._openai_responses", "OpenAIResponsesCodec", b"data: "),
    ("rill.providers._anthropic", "AnthropicCodec", b"event: x\ndata: "),
    ("rill.providers._cohere", "CohereCodec", b"data: "),
    ("rill.providers._gemini", "GeminiCodec", b"data: "),  # ?alt=sse
    ("rill.providers._gemini", "GeminiCodec", b'[{"a": "'),  # a JSON array
    ("rill.providers._gemini", "GeminiCodec", b'{"a": "'),  # a whole JSON body
    ("rill.providers._ollama", "OllamaChatCodec", b'{"a": "'),
    ("rill.providers._ollama", "OllamaGenerateCodec", b'{"a": "'),
]


@pytest.mark.parametrize(("module", "name", "start"), _CODECS)
def test_every_codec_passes_the_calls_limit_on(module: str, name: str, start: bytes) -> None:
    import importlib

    from tests.decoding import call

    codec = getattr(importlib.import_module(module), name)()
    limits: dict[int, int] = {}
    for limit in (LIMIT, 4 * LIMIT):
        decoder = codec.stream_decoder(dataclasses.replace(call(), max_event_bytes=limit))
        fed = 0
        decoder.feed(start)
        while decoder.error is None and fed < 100 * LIMIT:
            decoder.feed(b"x" * 100)
            fed += 100
        assert isinstance(decoder.error, ProtocolError), decoder.error
        assert f"limit of {limit} bytes" in str(decoder.error)
        limits[limit] = fed
    for limit, fed in limits.items():
        assert limit - 100 <= fed <= limit + 100  # it failed once it held the limit
