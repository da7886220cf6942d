"""The parser's depth bound: nesting past ``max_depth`` is a typed error, and
the work (characters examined plus path elements built) stays linear in the
input whatever the nesting."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill import RillError
from rill.structured import JsonStreamError, JsonStreamParser
from rill.structured._ops import Close, Op, StartArray, StartObject
from rill.structured._parser import DEFAULT_MAX_DEPTH

from .. import memory


def feed(parser: JsonStreamParser, text: str, size: int) -> list[Op]:
    ops: list[Op] = []
    for k in range(0, len(text), size):
        ops += parser.feed(text[k : k + size])
    return ops + parser.flush()


def nested(openers: str) -> str:
    """A document nesting ``openers`` (each ``{`` or ``[``) with a value inside."""
    inner = "1"
    for c in reversed(openers):
        inner = '{"k": ' + inner + "}" if c == "{" else "[" + inner + "]"
    return inner


@pytest.mark.parametrize("size", [1, 3, 10**9])
@pytest.mark.parametrize("opener", ["{", "["])
def test_nesting_up_to_max_depth_passes(opener: str, size: int) -> None:
    ops = feed(JsonStreamParser(max_depth=50), nested(opener * 50), size)
    assert sum(type(op) in (StartObject, StartArray) for op in ops) == 50


@pytest.mark.parametrize("size", [1, 3, 10**9])
@pytest.mark.parametrize("opener", ["{", "["])
def test_nesting_past_max_depth_is_a_typed_error(opener: str, size: int) -> None:
    text = nested(opener * 51)
    parser = JsonStreamParser(max_depth=50)
    with pytest.raises(JsonStreamError, match=r"deeper than 50 levels.*max_depth") as info:
        feed(parser, text, size)
    assert isinstance(info.value, RillError)
    # Found at the 51st opening bracket, which is where the text nests too deep.
    opens = [i for i, c in enumerate(text) if c == opener]
    assert info.value.position == opens[50]
    with pytest.raises(JsonStreamError, match="after an error"):
        parser.feed("]")


def test_the_default_bound() -> None:
    assert DEFAULT_MAX_DEPTH == 256
    feed(JsonStreamParser(), nested("[{" * 128), 7)
    with pytest.raises(JsonStreamError):
        feed(JsonStreamParser(allow_prose=False), nested("[{" * 128 + "["), 7)


def test_a_close_carries_the_path_its_start_carried() -> None:
    ops = JsonStreamParser().feed('{"a": [[1], {"b": []}]}')
    starts = [op.path for op in ops if type(op) in (StartObject, StartArray)]
    closes = [op.path for op in ops if type(op) is Close]
    assert sorted(map(id, starts)) == sorted(map(id, closes))


@settings(max_examples=60)
@given(
    depth=st.integers(1, 3000),
    pattern=st.text(alphabet="{[", min_size=1, max_size=5),
    values=st.integers(0, 20),
    size=st.sampled_from([1, 7, 256, 10**9]),
)
def test_work_is_linear_in_the_input_at_any_depth(
    depth: int, pattern: str, values: int, size: int
) -> None:
    """Characters examined plus path elements built, per input character, is
    bounded by a constant (the depth bound) that does not grow with the
    nesting; nesting past the bound fails, and never late."""
    openers = (pattern * depth)[:depth]
    text = _with_values(openers, values)  # many values at the deepest level
    parser = JsonStreamParser()
    ops: list[Op] = []
    error: JsonStreamError | None = None
    try:
        ops = feed(parser, text, size)
    except JsonStreamError as exc:
        error = exc
        ops = exc.ops  # the ops of the failing call only; earlier calls' were built too
    assert (error is not None) is (depth + 1 > DEFAULT_MAX_DEPTH)
    if error is not None:
        # Found at the first bracket too deep, not after reading on.
        assert error.position == _nth_opener(text, DEFAULT_MAX_DEPTH)
    path_work = sum(len(op.path) for op in ops)
    assert parser.chars_examined <= 2 * len(text)
    assert path_work <= DEFAULT_MAX_DEPTH * len(text)


def _nth_opener(text: str, n: int) -> int:
    """Where the bracket opening the ``n``-th (0-based) nested container is."""
    seen = -1
    for i, c in enumerate(text):
        if c in "{[":
            seen += 1
            if seen == n:
                return i
    raise AssertionError


def _with_values(openers: str, values: int) -> str:
    """``openers`` nested, then an array of ``values + 1`` numbers innermost."""
    inner = "[" + "1," * values + "1]"
    for c in reversed(openers):
        inner = '{"k": ' + inner + "}" if c == "{" else "[" + inner + "]"
    return inner


def peak(body: str) -> tuple[int, str]:
    """``(peak RSS growth in MiB, result)`` of ``body`` run in a child."""
    setup = "from rill.structured import Assembler, JsonStreamError, JsonStreamParser"
    before, after, result = memory.peak(setup, body)
    return (after - before) // 1024, result


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ")
def test_100k_deep_nesting_fails_fast_in_bounded_memory() -> None:
    grew, result = peak(
        """
        text = '{"a":' + "[" * 100_000
        try:
            JsonStreamParser().feed(text)
            result = "parsed"
        except JsonStreamError as exc:
            result = exc.position
        """
    )
    assert result == str(5 + 255)  # the 257th container is the one too many
    assert grew < 50, f"peak RSS grew by {grew} MiB"


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ")
def test_many_values_at_the_depth_bound_stream_in_bounded_memory() -> None:
    """At the deepest allowed level, a stream of 400 KB of values fed in small
    chunks holds only the document, not every op's path."""
    grew, result = peak(
        """
        depth = 255
        text = "[" * depth + "1," * 200_000 + "1" + "]" * depth
        parser, doc = JsonStreamParser(), Assembler()
        for k in range(0, len(text), 64):
            doc.apply(parser.feed(text[k : k + 64]))
        doc.apply(parser.flush())
        node = doc.value
        for _ in range(depth - 1):
            node = node[0]
        result = doc.done and node == [1] * 200_001
        """
    )
    assert result == "True"
    assert grew < 50, f"peak RSS grew by {grew} MiB"
