"""``rill.wire.JSONArrayDecoder``: a streamed top-level JSON array, element by
element, whatever the byte splits; malformed arrays are ``ProtocolError``."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill import ProtocolError
from rill.wire import JSONArrayDecoder

from .conftest import wire_files


def decode_all(body: bytes, cuts: list[int]) -> tuple[list[Any], bool]:
    decoder = JSONArrayDecoder()
    out: list[Any] = []
    edges = [0, *sorted(cuts), len(body)]
    for start, end in itertools.pairwise(edges):
        out += decoder.decode(body[start:end])
    out += decoder.flush()
    return out, decoder.complete


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)  # what orjson reads as int
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab"\\{}[],: \n\té\u2028'), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.sampled_from('k"\\{]'), max_size=4), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=200)
@given(
    values=st.lists(JSON_VALUES, max_size=6),
    indent=st.sampled_from([None, 2]),
    data=st.data(),
)
def test_any_array_any_split(values: list[Any], indent: int | None, data: st.DataObject) -> None:
    body = json.dumps(values, indent=indent, ensure_ascii=False).encode()
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=30))
    assert decode_all(body, cuts) == (values, True)


def test_an_element_arrives_with_its_closing_brace() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.decode(b'[{"a": "}{],\\""') == []
    assert decoder.decode(b"}") == [{"a": '}{],"'}]
    assert decoder.decode(b"\n,\r\n[1, [2]") == []
    assert decoder.decode(b"]") == [[1, [2]]]
    assert decoder.decode(b'\n,\r\n"s\\\\"') == ["s\\"]  # a string element ends at its quote
    assert not decoder.complete
    assert decoder.decode(b"\n]\n") == []
    assert decoder.complete and decoder.elements_seen == 3


def test_scalars_arrive_with_the_separator_after_them() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.decode(b"[1") == []
    assert decoder.decode(b"2 , true") == [12]
    assert decoder.truncated
    assert decoder.decode(b"]") == [True]
    assert not decoder.truncated


def test_escapes_split_across_chunks() -> None:
    body = b'[{"t": "a\\\\\\"b\\\\"}]'  # a\\\"b\\ : escaped backslash, escaped quote, backslash
    for cut in range(len(body) + 1):
        assert decode_all(body, [cut]) == ([{"t": 'a\\"b\\'}], True)


def test_leading_whitespace_and_empty_array() -> None:
    assert decode_all(b" \r\n [ \n ] \n", [1, 3]) == ([], True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1}', "expected a JSON array"),
        (b"[{} {}]", "missing ','"),
        (b"[1 2]", "invalid JSON array element"),
        (b"[{}1]", "missing ','"),
        (b"[1,]", "empty JSON array element"),
        (b"[,1]", "empty JSON array element"),
        (b"[1,,2]", "empty JSON array element"),
        (b"[}", "unexpected"),
        (b"[{]", "invalid JSON array element"),
        (b"[nope]", "invalid JSON array element"),
        (b"[1] x", "after the end"),
    ],
)
def test_malformed_arrays(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_all(body, [])


def test_elements_before_an_error_are_delivered_first() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.decode(b'[{"a": 1}, {"b": 2} {') == [{"a": 1}, {"b": 2}]
    with pytest.raises(ProtocolError, match="missing ','"):
        decoder.decode(b"}]")
    with pytest.raises(ProtocolError):
        decoder.flush()


def test_data_after_the_end_in_a_later_chunk() -> None:
    decoder = JSONArrayDecoder()
    decoder.decode(b"[]")
    assert decoder.decode(b" \n") == []
    with pytest.raises(ProtocolError, match="after the end"):
        decoder.decode(b"[")


def test_consumed_bytes_are_dropped() -> None:
    decoder = JSONArrayDecoder()
    element = json.dumps({"text": "x" * 1000}).encode()
    decoder.decode(b"[" + element)
    for _ in range(200):
        assert decoder.decode(b"\n,\r\n" + element) == [{"text": "x" * 1000}]
        assert len(decoder._buf) < 2 * len(element)


@pytest.mark.shared
def test_gemini_recordings() -> None:
    bodies = wire_files("gemini", "*.json")
    assert bodies
    for path in bodies:
        body = path.read_bytes()
        whole = json.loads(body)
        assert decode_all(body, []) == (whole, True)
        assert decode_all(body, list(range(len(body)))) == (whole, True)
