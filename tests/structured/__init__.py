"""Shared helpers for the structured-streaming tests: JSON strategies and drivers."""

from __future__ import annotations

import itertools
import json
import math
import random
from typing import Any

from hypothesis import strategies as st

from rill.structured import Assembler, JsonStreamParser, Op

# ------------------------------------------------------------------ strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.text(alphabet='\\"/\b\f\n\r\t\x00\x1f\u2028é😀𝄞', max_size=10)
)

json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=30,
)

# Number text in every form the grammar allows, not only what json.dumps writes.
number_texts = st.from_regex(
    r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)


def dumps_random(value: Any, rnd: random.Random, *, ensure_ascii: bool) -> str:
    """Serialize with random JSON whitespace wherever the grammar allows it."""

    def ws() -> str:
        return "".join(rnd.choice(" \t\n\r") for _ in range(rnd.choice((0, 0, 1, 3))))

    def enc(v: Any) -> str:
        if isinstance(v, dict):
            items = [
                ws() + json.dumps(k, ensure_ascii=ensure_ascii) + ws() + ":" + enc(x)
                for k, x in v.items()
            ]
            return ws() + "{" + (",".join(items) if items else ws()) + "}" + ws()
        if isinstance(v, list):
            return ws() + "[" + (",".join(enc(x) for x in v) if v else ws()) + "]" + ws()
        return ws() + json.dumps(v, ensure_ascii=ensure_ascii) + ws()

    return enc(value)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """A random document, serialized in one of several styles."""
    value = draw(json_values)
    style = draw(st.sampled_from(["compact", "indent", "tabs", "ascii", "random_ws"]))
    if style == "compact":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if style == "indent":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if style == "tabs":
        return json.dumps(value, indent="\t", ensure_ascii=True)
    if style == "ascii":
        return json.dumps(value, ensure_ascii=True)
    rnd = random.Random(draw(st.integers(0, 2**32)))
    return dumps_random(value, rnd, ensure_ascii=draw(st.booleans()))


def split_at(text: str, cuts: list[int]) -> list[str]:
    """``text`` cut at the given offsets (taken modulo its length, deduplicated)."""
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


# --------------------------------------------------------------------- drivers


def parse_all(chunks: list[str], **kwargs: Any) -> tuple[Any, list[Op], JsonStreamParser]:
    """Feed ``chunks`` and close; return the assembled value, all ops and the parser."""
    parser = JsonStreamParser(**kwargs)
    assembler = Assembler()
    ops: list[Op] = []
    for chunk in chunks:
        new = parser.feed(chunk)
        ops += new
        assembler.apply(new)
    new = parser.flush()
    ops += new
    assembler.apply(new)
    return assembler.value, ops, parser


def same(a: Any, b: Any) -> bool:
    """Equality that also tells 1, 1.0 and True apart, and 0.0 from -0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def consistent(partial: Any, final: Any) -> bool:
    """``partial`` is an incomplete but never wrong view of ``final``."""
    if isinstance(partial, dict):
        return isinstance(final, dict) and all(
            k in final and consistent(v, final[k]) for k, v in partial.items()
        )
    if isinstance(partial, list):
        return (
            isinstance(final, list)
            and len(partial) <= len(final)
            and all(consistent(x, y) for x, y in zip(partial, final, strict=False))
        )
    if isinstance(partial, str):
        return isinstance(final, str) and final.startswith(partial)
    return same(partial, final)


def value_at(doc: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc
