"""The NDJSON decoder: lines, CRLF, blank lines, unfinished lines, bad bytes,
and the same values however the bytes are split."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill import ProtocolError
from rill.wire import NDJSONDecoder


def decode_all(body: bytes, cuts: list[int]) -> list[Any]:
    decoder = NDJSONDecoder()
    values: list[Any] = []
    edges = [0, *sorted(cuts), len(body)]
    for start, end in itertools.pairwise(edges):
        values += decoder.decode(body[start:end])
    return values + decoder.flush()


def test_one_value_per_line() -> None:
    decoder = NDJSONDecoder()
    assert decoder.decode(b'{"a":1}\n{"b":[2,3]}\n') == [{"a": 1}, {"b": [2, 3]}]
    assert decoder.flush() == []


def test_values_of_any_json_type() -> None:
    assert decode_all(b'1\n"two"\n[3]\nnull\ntrue\n', []) == [1, "two", [3], None, True]


def test_crlf_and_blank_lines_are_tolerated() -> None:
    body = b'{"a":1}\r\n\r\n  \n\t\r\n{"b":2}\r\n\n'
    assert decode_all(body, []) == [{"a": 1}, {"b": 2}]


def test_an_unfinished_line_waits_for_its_newline() -> None:
    decoder = NDJSONDecoder()
    assert decoder.decode(b'{"a":') == []
    assert decoder.pending
    assert decoder.decode(b'"x\\ny"') == []  # an escaped newline is not a line end
    assert decoder.decode(b"}\n") == [{"a": "x\ny"}]
    assert not decoder.pending


def test_flush_parses_a_last_line_without_newline() -> None:
    decoder = NDJSONDecoder()
    assert decoder.decode(b'{"a":1}\n{"b":2}') == [{"a": 1}]
    assert decoder.flush() == [{"b": 2}]
    assert decoder.flush() == []


def test_a_whole_json_body_is_one_value() -> None:
    assert decode_all(b'{"error":"model not found"}', [5]) == [{"error": "model not found"}]


def test_a_leading_bom_is_dropped_even_when_split() -> None:
    body = b'\xef\xbb\xbf{"a":1}\n{"b":2}\n'
    assert decode_all(body, [1, 2]) == [{"a": 1}, {"b": 2}]
    assert decode_all(b'\xef\xbb\xbf{"a":1}', [2]) == [{"a": 1}]


def test_unicode_split_inside_a_character() -> None:
    body = '{"t":"héllo 🌍"}\n'.encode()
    assert decode_all(body, list(range(len(body)))) == [{"t": "héllo 🌍"}]


def test_a_malformed_line_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="invalid JSON line"):
        NDJSONDecoder().decode(b'{"a":1}\n{"a":\n')


def test_a_malformed_last_line_is_a_protocol_error_at_flush() -> None:
    decoder = NDJSONDecoder()
    decoder.decode(b'{"a":1}\n{"a":')
    with pytest.raises(ProtocolError):
        decoder.flush()


def test_invalid_utf8_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid UTF-8"):
        NDJSONDecoder().decode(b'{"a":"\xff"}\n')


def test_lines_keep_the_values_before_a_bad_line() -> None:
    decoder = NDJSONDecoder()
    lines = decoder.lines(b'{"a":1}\n\r\nnot json\n{"b":2}\n')
    assert lines == [b'{"a":1}', b"not json", b'{"b":2}']
    assert NDJSONDecoder.parse(lines[0]) == {"a": 1}
    with pytest.raises(ProtocolError):
        NDJSONDecoder.parse(lines[1])


def test_a_long_line_in_tiny_chunks() -> None:
    value = {"text": "x" * 100_000}
    body = orjson.dumps(value) + b"\n"
    decoder = NDJSONDecoder()
    out: list[Any] = []
    for i in range(0, len(body), 7):
        out += decoder.decode(body[i : i + 7])
    assert out == [value]


chars = st.characters(exclude_categories=["Cs"])  # JSON text is UTF-8: no lone surrogates
text = st.text(chars)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | text,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(chars, max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60)
@given(
    values=st.lists(json_values, max_size=8),
    crlf=st.lists(st.booleans(), min_size=8, max_size=8),
    blank=st.lists(st.booleans(), min_size=8, max_size=8),
    data=st.data(),
)
def test_any_byte_split_gives_the_same_values(
    values: list[Any], crlf: list[bool], blank: list[bool], data: st.DataObject
) -> None:
    body = b""
    for value, cr, gap in zip(values, crlf, blank, strict=False):
        body += orjson.dumps(value) + (b"\r\n" if cr else b"\n") + (b"\n" if gap else b"")
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=20))
    assert decode_all(body, cuts) == values
