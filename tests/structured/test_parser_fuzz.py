"""``JsonStreamParser`` on arbitrary text, however it is cut: path ops, or a
``JsonStreamError`` (a ``RillError``), never another exception."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from rill import RillError
from rill.structured import JsonStreamError, JsonStreamParser

assert issubclass(JsonStreamError, RillError)

FUZZ = settings(max_examples=300, deadline=1000)

json_text = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=15,
).map(lambda v: orjson.dumps(v).decode())
alphabet = st.sampled_from(list('{}[]",:.-+eE0123456789 \n\\tfalsenul`abc\x00\ud7ff'))
texts = (
    st.text(max_size=80)
    | st.text(alphabet, max_size=80)
    | json_text
    | st.tuples(json_text, st.text(alphabet, max_size=20)).map("".join)
)


def run(text: str, cuts: list[int], *, allow_prose: bool) -> None:
    parser = JsonStreamParser(allow_prose=allow_prose)
    bounds = [0, *sorted({min(c, len(text)) for c in cuts}), len(text)]
    try:
        for start, end in itertools.pairwise(bounds):
            assert isinstance(parser.feed(text[start:end]), list)
        assert isinstance(parser.flush(), list)
    except JsonStreamError:
        pass  # a RillError: the one failure the parser may raise


@FUZZ
@given(texts, st.lists(st.integers(0, 80), max_size=4), st.booleans())
def test_arbitrary_text_gives_ops_or_a_json_stream_error(
    text: str, cuts: list[int], allow_prose: bool
) -> None:
    run(text, cuts, allow_prose=allow_prose)


@settings(FUZZ, max_examples=20)
@given(st.integers(1, 3000), st.sampled_from(["[", '{"a":', "[{"]))
def test_deep_nesting_never_overflows_the_stack(depth: int, opener: str) -> None:
    run(opener * depth, [depth // 2], allow_prose=False)
