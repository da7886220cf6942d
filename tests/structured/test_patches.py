from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill.structured import (
    JsonStreamParser,
    apply_patch,
    apply_patches,
    to_patches,
    to_pointer,
)

from . import json_texts, same, split_at


def string_chars(doc: Any) -> int:
    if isinstance(doc, str):
        return len(doc)
    if isinstance(doc, dict):
        return sum(string_chars(v) for v in doc.values())
    if isinstance(doc, list):
        return sum(string_chars(v) for v in doc)
    return 0


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        ((), ""),
        (("a",), "/a"),
        (("a", 0, "b"), "/a/0/b"),
        (("",), "/"),
        (("a/b", "m~n", "~1"), "/a~1b/m~0n/~01"),
        ((3, "x y"), "/3/x y"),
    ],
)
def test_pointers_escape_as_rfc_6901_says(path: tuple[str | int, ...], pointer: str) -> None:
    assert to_pointer(path) == pointer


def test_patches_for_a_stream() -> None:
    parser = JsonStreamParser()
    patches = to_patches(parser.feed('{"a/b": ["x", "lo'))
    patches += to_patches(parser.feed('ng"], "n": 1}'), closes=True)
    assert patches == [
        {"op": "add", "path": "", "value": {}},
        {"op": "add", "path": "/a~1b", "value": []},
        {"op": "add", "path": "/a~1b/0", "value": "x"},
        {"op": "add", "path": "/a~1b/1", "value": ""},
        {"op": "append", "path": "/a~1b/1", "value": "lo"},
        {"op": "append", "path": "/a~1b/1", "value": "ng"},
        {"op": "close", "path": "/a~1b/1"},
        {"op": "close", "path": "/a~1b"},
        {"op": "add", "path": "/n", "value": 1},
        {"op": "close", "path": ""},
    ]
    assert apply_patches(None, patches) == {"a/b": ["x", "long"], "n": 1}


@settings(deadline=None)
@given(st.data(), json_texts())
def test_patches_rebuild_the_document(data: st.DataObject, text: str) -> None:
    final = json.loads(text)
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=30))
    parser = JsonStreamParser()
    patches: list[dict[str, Any]] = []
    one_by_one: Any = {}
    for chunk in split_at(text, cuts):
        new = to_patches(parser.feed(chunk), closes=data.draw(st.booleans()))
        for patch in new:
            one_by_one = apply_patch(one_by_one, patch)
        patches += new
    last = to_patches(parser.flush())
    for patch in last:
        one_by_one = apply_patch(one_by_one, patch)
    patches += last
    assert same(apply_patches(None, patches), final)
    assert same(one_by_one, final)
    # Wire-ready, and string text is sent exactly once.
    assert json.loads(json.dumps(patches)) == patches
    sent = sum(
        len(p["value"]) for p in patches if p["op"] != "close" and isinstance(p["value"], str)
    )
    assert sent == string_chars(final)


def test_patch_bytes_grow_linearly() -> None:
    def bytes_per_char(n: int) -> float:
        text = json.dumps({"story": "once upon a time " * n, "n": list(range(n))})
        parser = JsonStreamParser()
        patches: list[dict[str, Any]] = []
        for k in range(0, len(text), 16):
            patches += to_patches(parser.feed(text[k : k + 16]))
        return len(orjson.dumps(patches)) / len(text)

    assert bytes_per_char(100_000) <= 1.1 * bytes_per_char(1_000)


def test_patches_leave_patch_values_unshared() -> None:
    patches: list[dict[str, Any]] = [
        {"op": "add", "path": "", "value": {}},
        {"op": "add", "path": "/a", "value": []},
        {"op": "add", "path": "/a/-", "value": {"deep": [1]}},
    ]
    first = apply_patches(None, patches)
    first["a"][0]["deep"].append(2)
    assert apply_patches(None, patches) == {"a": [{"deep": [1]}]}
    assert patches[0]["value"] == {}


def test_rfc_6902_add_inserts_into_arrays() -> None:
    doc = apply_patch([1, 3], {"op": "add", "path": "/1", "value": 2})
    assert doc == [1, 2, 3]


@pytest.mark.parametrize(
    "patch",
    [
        {"op": "remove", "path": "/a"},
        {"op": "add", "path": "a", "value": 1},
        {"op": "append", "path": "/n", "value": "x"},
        {"op": "append", "path": "", "value": "x"},
        {"op": "add", "path": "/l/9", "value": 1},
        {"op": "add", "path": "/l/01", "value": 1},
        {"op": "append", "path": "/l/-", "value": "x"},
        {"op": "add", "path": "/n/x", "value": 1},
        {"op": "add", "path": "/n/x/y", "value": 1},
    ],
)
def test_bad_patches_raise(patch: dict[str, Any]) -> None:
    with pytest.raises((ValueError, KeyError)):
        apply_patch({"n": 1, "l": []}, patch)
