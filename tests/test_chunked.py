"""The chunked transfer coding decoder (RFC 9112 §7.1), in any byte split."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rill import ProtocolError
from rill.wire._chunked import MAX_LINE, MAX_TRAILERS, ChunkedDecoder


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def decode_all(*pieces: bytes) -> tuple[bytes, ChunkedDecoder]:
    """The payload of ``pieces``; bad framing raises once the payload before
    it was returned."""
    decoder = ChunkedDecoder()
    out = b"".join(decoder.decode(piece) for piece in pieces)
    if decoder.error is not None:
        raise decoder.error
    return out, decoder


def test_one_chunk_per_read() -> None:
    decoder = ChunkedDecoder()
    assert decoder.decode(b"5\r\nhello\r\n") == b"hello"
    assert decoder.decode(b"1A\r\n" + b"x" * 26 + b"\r\n") == b"x" * 26
    assert not decoder.done
    assert decoder.decode(b"0\r\n\r\n") == b""
    assert decoder.done and not decoder.extra


def test_extensions_and_trailers_are_read_past() -> None:
    body = b'5;name=value;flag\r\nhello\r\n3 ; q="a;b"\r\nabc\r\n0;last\r\nX-Sum: 1\r\nY: 2\r\n\r\n'
    out, decoder = decode_all(body)
    assert out == b"helloabc"
    assert decoder.done and not decoder.extra


def test_chunk_data_is_passed_on_before_its_chunk_ends() -> None:
    decoder = ChunkedDecoder()
    assert decoder.decode(b"a\r\n01234") == b"01234"
    assert decoder.decode(b"56789\r") == b"56789"
    assert decoder.decode(b"\n0\r\n\r\n") == b""
    assert decoder.done


def test_bytes_after_the_end_are_noted() -> None:
    _, decoder = decode_all(b"1\r\na\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert decoder.done and decoder.extra
    _, decoder = decode_all(b"1\r\na\r\n0\r\n\r\n", b"x")
    assert decoder.done and decoder.extra


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n",  # not hexadecimal
        b"-5\r\nhello\r\n",
        b"0x5\r\nhello\r\n",  # int(..., 16) would take these three
        b"+5\r\nhello\r\n",
        b"5_0\r\nhello\r\n",
        b" 5\r\nhello\r\n",
        b"\r\nhello\r\n",  # no size at all
        b"5\nhello\r\n",  # a bare LF
        b"5\r\nhelloXY",  # data not followed by CRLF
        b"5\r\nhello\n\n",
        b"1" * 17 + b"\r\n",  # more digits than any real size
        b"0\r\nno colon here\r\n\r\n",  # a trailer line that is not a field
    ],
)
def test_bad_framing_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_all(body)
    # The same, one byte at a time: found at the first byte that shows it.
    with pytest.raises(ProtocolError):
        decode_all(*(body[i : i + 1] for i in range(len(body))))


def test_payload_before_bad_framing_is_returned_first() -> None:
    decoder = ChunkedDecoder()
    assert decoder.decode(b"5\r\nhello\r\nzz\r\n") == b"hello"
    assert isinstance(decoder.error, ProtocolError)
    with pytest.raises(ProtocolError):
        decoder.decode(b"5\r\nhello\r\n")


def test_an_endless_size_line_is_refused_once_it_passes_the_bound() -> None:
    decoder = ChunkedDecoder()
    decoder.decode(b"5" + b";" * (MAX_LINE - 10))
    with pytest.raises(ProtocolError):
        decoder.decode(b";" * 20)


def test_an_endless_trailer_section_is_refused() -> None:
    decoder = ChunkedDecoder()
    decoder.decode(b"0\r\n")
    with pytest.raises(ProtocolError, match="trailer"):
        for _ in range(MAX_TRAILERS // 16 + 2):
            decoder.decode(b"X-Field: 012345\r\n")
    with pytest.raises(ProtocolError, match="trailer"):
        decode_all(b"0\r\n" + b"x" * (MAX_LINE + 1))


@st.composite
def chunked_bodies(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(payload, its chunked encoding), with random extensions and trailers."""
    chunks = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=8))
    ext = st.sampled_from([b"", b";a", b";a=1", b' ;b="x;y"', b";\tc"])
    parts = []
    for chunk in chunks:
        size = draw(st.sampled_from(["%x", "%X", "0%x"])) % len(chunk)
        parts.append(size.encode() + draw(ext) + b"\r\n" + chunk + b"\r\n")
    trailers = draw(st.lists(st.sampled_from([b"X-A: 1\r\n", b"Digest: sha=abc\r\n"]), max_size=3))
    parts.append(b"0" + draw(ext) + b"\r\n" + b"".join(trailers) + b"\r\n")
    return b"".join(chunks), b"".join(parts)


@given(body=chunked_bodies(), data=st.data())
def test_any_split_gives_the_same_payload(body: tuple[bytes, bytes], data: st.DataObject) -> None:
    payload, encoded = body
    cuts = data.draw(st.lists(st.integers(0, len(encoded)), max_size=10))
    out, decoder = decode_all(*split(encoded, cuts))
    assert out == payload
    assert decoder.done and not decoder.extra


@given(body=chunked_bodies(), data=st.data())
def test_a_body_cut_short_is_not_done(body: tuple[bytes, bytes], data: st.DataObject) -> None:
    """At end of file, ``done`` tells a complete body from one cut short (the
    reader then raises IncompleteStreamError); what arrived is still passed on."""
    payload, encoded = body
    end = data.draw(st.integers(0, len(encoded) - 1))
    cuts = data.draw(st.lists(st.integers(0, end), max_size=6))
    out, decoder = decode_all(*split(encoded[:end], cuts))
    assert not decoder.done
    assert payload.startswith(out)


@given(body=chunked_bodies(), garbage=st.binary(min_size=1, max_size=8), data=st.data())
def test_a_bad_byte_anywhere_in_the_framing_is_caught_or_harmless(
    body: tuple[bytes, bytes], garbage: bytes, data: st.DataObject
) -> None:
    """Framing replaced by other bytes: a ProtocolError, or an end that is not
    reached; never an exception of another kind."""
    _, encoded = body
    at = data.draw(st.integers(0, len(encoded) - 1))
    broken = encoded[:at] + garbage + encoded[at + len(garbage) :]
    cuts = data.draw(st.lists(st.integers(0, len(broken)), max_size=6))
    with contextlib.suppress(ProtocolError):
        decode_all(*split(broken, cuts))
