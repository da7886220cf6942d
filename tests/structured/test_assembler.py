from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill.structured import (
    AppendString,
    Assembler,
    Close,
    JsonStreamParser,
    SetScalar,
    StartArray,
    StartObject,
    StartString,
)

from . import json_texts, split_at


def all_paths(doc: Any) -> set[tuple[str | int, ...]]:
    out: set[tuple[str | int, ...]] = set()
    todo: list[tuple[tuple[str | int, ...], Any]] = [((), doc)]
    while todo:
        path, node = todo.pop()
        out.add(path)
        if isinstance(node, dict):
            todo.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend(((*path, i), v) for i, v in enumerate(node))
    return out


def test_apply_returns_completed_paths_in_order() -> None:
    parser, doc = JsonStreamParser(), Assembler()
    assert doc.apply(parser.feed('{"user": {"name": "Ad')) == []
    assert doc.value == {"user": {"name": "Ad"}}
    assert doc.apply(parser.feed('a", "tags": ["x", 1')) == [
        ("user", "name"),
        ("user", "tags", 0),
    ]
    assert doc.apply(parser.feed("]}, ")) == [("user", "tags", 1), ("user", "tags"), ("user",)]
    assert doc.apply(parser.feed('"ok": true}')) == [("ok",), ()]
    assert doc.done
    assert doc.value == {"user": {"name": "Ada", "tags": ["x", 1]}, "ok": True}


def test_is_complete_follows_the_open_spine() -> None:
    parser, doc = JsonStreamParser(), Assembler()
    assert not doc.is_complete(())
    assert doc.value is None
    assert not doc.started
    doc.apply(parser.feed('{"a": [1, {"b": "x"}, "gro'))
    assert doc.started
    assert doc.is_complete(("a", 0))
    assert doc.is_complete(("a", 1))
    assert doc.is_complete(("a", 1, "b"))
    assert not doc.is_complete(("a", 2))  # the open string
    assert not doc.is_complete(("a",))
    assert not doc.is_complete(())
    assert not doc.is_complete(("missing",))
    assert not doc.is_complete(("a", 7))
    assert not doc.is_complete(("a", "key-of-a-list"))
    assert not doc.is_complete(("a", 0, "into-a-number"))
    assert doc.open_string_path == ("a", 2)
    assert doc.completed == {("a", 0), ("a", 1), ("a", 1, "b")}
    doc.apply(parser.feed('wing"]}'))
    assert doc.open_string_path is None
    assert doc.completed == all_paths(doc.value)
    assert doc.done


def test_open_string_is_joined_only_when_read() -> None:
    doc = Assembler()
    doc.apply([StartObject(()), StartString(("s",))])
    for _ in range(1000):
        doc.apply([AppendString(("s",), "ab")])
    assert doc.value == {"s": "ab" * 1000}
    doc.apply([AppendString(("s",), "!"), Close(("s",))])
    assert doc.value == {"s": "ab" * 1000 + "!"}
    assert doc.apply([Close(())]) == [()]


def test_top_level_string_grows() -> None:
    doc = Assembler()
    doc.apply([StartString(()), AppendString((), "he")])
    assert doc.value == "he"
    doc.apply([AppendString((), "llo"), Close(())])
    assert doc.value == "hello"
    assert doc.done


def test_duplicate_keys_match_json_loads() -> None:
    text = '{"a": 1, "b": [2], "a": "three"}'
    parser, doc = JsonStreamParser(), Assembler()
    doc.apply(parser.feed(text))
    assert doc.value == json.loads(text)
    assert list(doc.value) == list(json.loads(text))


@pytest.mark.parametrize(
    "ops",
    [
        [AppendString((), "x")],
        [StartObject(()), SetScalar(("a", "b"), 1)],
        [StartArray(()), StartString((0,)), SetScalar((1,), 2)],
        [StartObject(()), StartObject(("a",)), Close(())],
    ],
)
def test_ops_out_of_order_are_rejected(ops: list[Any]) -> None:
    with pytest.raises(ValueError, match=r"open|order|innermost"):
        Assembler().apply(ops)


@settings(deadline=None)
@given(st.data(), json_texts())
def test_every_path_completes_exactly_once(data: st.DataObject, text: str) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=20))
    parser, doc = JsonStreamParser(), Assembler()
    seen: list[tuple[str | int, ...]] = []
    for chunk in split_at(text, cuts):
        for path in doc.apply(parser.feed(chunk)):
            assert doc.is_complete(path)
            seen.append(path)
    seen += doc.apply(parser.flush())
    assert len(seen) == len(set(seen))
    assert set(seen) == all_paths(json.loads(text)) == doc.completed
