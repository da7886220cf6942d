"""StreamChunk's constructor: keywords only, and the hot path's positional twin."""

from __future__ import annotations

import pytest

from rill import StreamChunk, Usage
from rill._chunks import text_chunk


def test_the_constructor_takes_keywords_only() -> None:
    with pytest.raises(TypeError):
        StreamChunk("text", "reasoning")  # type: ignore[call-arg]


def test_text_chunk_is_the_keyword_chunk_it_stands_for() -> None:
    usage = Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    fast = text_chunk("hi", 2, usage, "m", "id-1", b'{"a":1}')
    slow = StreamChunk(content="hi", index=2, usage=usage, model="m", id="id-1", raw=b'{"a":1}')
    assert fast == slow
    assert fast.raw == {"a": 1}
    assert repr(fast) == repr(slow)
    # Every slot is set: reading any field of either works the same.
    for name in (*StreamChunk.__slots__, "raw"):
        assert getattr(fast, name.lstrip("_")) == getattr(slow, name.lstrip("_"))
