from __future__ import annotations

import contextlib
import copy
import doctest
import importlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rill.structured
from rill._errors import RillError
from rill.structured import (
    AppendString,
    Assembler,
    Close,
    JsonStreamError,
    JsonStreamParser,
    SetScalar,
    StartArray,
    StartObject,
    StartString,
    coalesce,
)

from . import consistent, json_texts, number_texts, parse_all, same, split_at, value_at

# ------------------------------------------------------------------ properties


@settings(deadline=None, max_examples=300)
@given(st.data(), json_texts())
def test_any_split_gives_json_loads_result_and_consistent_partials(
    data: st.DataObject, text: str
) -> None:
    final = json.loads(text)
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=40))
    parser, assembler = JsonStreamParser(), Assembler()
    ops = []
    for chunk in split_at(text, cuts):
        new = parser.feed(chunk)
        ops += new
        assembler.apply(new)
        partial = copy.deepcopy(assembler.value)
        assert consistent(partial, final) or not assembler.started
        for path in assembler.completed:
            assert same(value_at(partial, path), value_at(final, path))
    new = parser.flush()
    assembler.apply(new)
    ops += new
    assert same(assembler.value, final)
    assert parser.done
    assert assembler.done

    # Chunking changes only how strings are delivered.
    whole = JsonStreamParser()
    whole_ops = whole.feed(text) + whole.flush()
    assert coalesce(ops) == whole_ops
    assert coalesce(whole_ops) == whole_ops


@settings(deadline=None)
@given(st.data(), json_texts())
def test_one_append_per_string_per_feed(data: st.DataObject, text: str) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=20))
    parser = JsonStreamParser()
    for chunk in split_at(text, cuts):
        appends = [op.path for op in parser.feed(chunk) if isinstance(op, AppendString)]
        assert len(appends) == len(set(appends))


@settings(deadline=None)
@given(st.data(), st.lists(number_texts, min_size=1, max_size=5))
def test_numbers_in_every_form_match_json_loads(data: st.DataObject, numbers: list[str]) -> None:
    text = "[" + ",".join(numbers) + "]"
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=10))
    value, ops, _ = parse_all(split_at(text, cuts))
    assert same(value, json.loads(text))
    # A number is only ever emitted complete.
    scalars = [op.value for op in ops if isinstance(op, SetScalar)]
    assert same(scalars, json.loads(text))


@settings(deadline=None)
@given(number_texts)
def test_top_level_number(text: str) -> None:
    for chunks in ([text], list(text)):
        value, _, _ = parse_all(chunks)
        assert same(value, json.loads(text))


# -------------------------------------------------------------------- examples


def test_ops_for_a_small_document() -> None:
    p = JsonStreamParser()
    assert p.feed('{"a": [1, "x') == [
        StartObject(()),
        StartArray(("a",)),
        SetScalar(("a", 0), 1),
        StartString(("a", 1)),
        AppendString(("a", 1), "x"),
    ]
    assert p.feed('y", tr') == [AppendString(("a", 1), "y"), Close(("a", 1))]
    assert p.feed("ue], ") == [SetScalar(("a", 2), True), Close(("a",))]
    assert p.feed('"b": "z"}') == [SetScalar(("b",), "z"), Close(())]
    assert p.done
    assert p.flush() == []


def test_numbers_wait_for_their_delimiter() -> None:
    p = JsonStreamParser()
    shown = []
    for ch in "[-12.5e-3, 0, -0.0, 1E400, 123456789012345678901234567890]":
        shown += [op.value for op in p.feed(ch) if isinstance(op, SetScalar)]
    assert same(shown, [-12.5e-3, 0, -0.0, float("inf"), 123456789012345678901234567890])


@pytest.mark.parametrize(
    "text",
    [
        '["a\\u00e9b\\ud83d\\ude00c\\n\\"\\\\d\\/\\b\\f\\r\\t"]',
        '{"k\\u00e9\\ud83d\\ude00": "\\ud83d\\ude00\\ud83d\\ude00"}',
        '["\\ud83d", "\\ude00", "\\ud83dx", "\\ud83d\\u0041", "\\ud83d\\ud83d\\ude00"]',
        '["\\ud83d\\\\", "\\ud83d\\n", "\\udbff\\udfff\\ud800\\udc00"]',
        "[true,false,null,true]",
        '{"a":{"b":[1.5,-2,3e2,{}]},"c":[[],[[]]],"d":""}',
    ],
)
def test_every_split_of_tricky_text(text: str) -> None:
    expected = json.loads(text)
    assert same(parse_all(list(text))[0], expected)
    for i in range(len(text) + 1):
        assert same(parse_all([text[:i], text[i:]])[0], expected), i
        for j in range(i, min(i + 14, len(text) + 1)):
            chunks = [text[:i], text[i:j], text[j:]]
            assert same(parse_all(chunks)[0], expected), (i, j)


def test_lone_surrogates_match_json_loads() -> None:
    text = '"\\ud83d"'
    assert parse_all([text])[0] == json.loads(text) == "\ud83d"


def test_deep_nesting_uses_no_recursion() -> None:
    depth = 5_000  # 10,000 levels (max_depth raised): objects, then arrays inside them
    text = '{"a":' * depth + "[" * depth + "1" + "]" * depth + "}" * depth
    parser, assembler = JsonStreamParser(max_depth=2 * depth), Assembler()
    for k in range(0, len(text), 997):
        assembler.apply(parser.feed(text[k : k + 997]))
    assembler.apply(parser.flush())
    node: Any = assembler.value
    for _ in range(depth):
        node = node["a"]
    for _ in range(depth):
        assert isinstance(node, list)
        assert len(node) == 1
        node = node[0]
    assert node == 1


def test_linear_in_input_size() -> None:
    item = {
        "id": 12345,
        "name": 'Ada "the first" Lovelace \u00e9\U0001f600',
        "bio": "word " * 40,
        "score": -1.25e-3,
        "ok": True,
        "tags": ["x", "y", None],
        "nested": {"deep": [1, 2, {"k": "v\\n"}]},
    }

    def ratio(size: int) -> float:
        items = [item] * max(1, size // len(json.dumps(item, ensure_ascii=True)))
        text = json.dumps({"items": items}, indent=1, ensure_ascii=True)
        parser = JsonStreamParser()
        for k in range(0, len(text), 4):
            parser.feed(text[k : k + 4])
        parser.flush()
        return parser.chars_examined / len(text)

    small, large = ratio(10_000), ratio(1_000_000)
    assert small < 1.5
    assert large <= 1.1 * small


def test_split_unicode_text_counts_each_character_once() -> None:
    text = json.dumps({"s": "é😀" * 500}, ensure_ascii=False)
    parser = JsonStreamParser()
    for ch in text:
        parser.feed(ch)
    assert parser.chars_examined == len(text)


# ---------------------------------------------------------------------- prose


@pytest.mark.parametrize(
    ("text", "expected", "trailing"),
    [
        (
            'Sure! Here it is:\n```json\n{"a": [1]}\n```\nHope that helps.',
            {"a": [1]},
            "\n```\nHope that helps.",
        ),
        ('Result: [1, 2] and more {"x": 1}', [1, 2], ' and more {"x": 1}'),
        ("```\n42\n```", 42, "\n```"),
        ("``` json\n[true]```", [True], "```"),
        ('```json\n"hi"\n```', "hi", "\n```"),
        ("  null  ", None, "  "),
        ("true", True, ""),
        ('1. First, the data: {"a": 1}', {"a": 1}, ""),
        ("3D models: [3]", [3], ""),
        ("nothing here, just [null]", [None], ""),
        ("`inline` code, then {}", {}, ""),
        ('"quoted" prose', "quoted", " prose"),
        ("-{}", {}, ""),
    ],
)
def test_prose_around_json(text: str, expected: Any, trailing: str) -> None:
    for chunks in ([text], list(text)):
        value, _, parser = parse_all(chunks)
        assert same(value, expected)
        assert parser.trailing_text == trailing


def test_prose_only_raises() -> None:
    parser = JsonStreamParser()
    parser.feed("I cannot help with that.")
    with pytest.raises(JsonStreamError, match="no JSON value found"):
        parser.flush()


def test_strict_mode_takes_exactly_one_value() -> None:
    assert parse_all([' {"a": 1} \n'], allow_prose=False)[0] == {"a": 1}
    assert parse_all(["42"], allow_prose=False)[0] == 42
    with pytest.raises(JsonStreamError) as info:
        JsonStreamParser(allow_prose=False).feed('Here: {"a": 1}')
    assert info.value.position == 0
    parser = JsonStreamParser(allow_prose=False)
    with pytest.raises(JsonStreamError, match="extra data") as info:
        parser.feed('{"a": 1} x')
    assert info.value.position == 9


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('{"a" 1}', 5),
        ("[1,]", 3),
        ("[1 2]", 3),
        ('{"a":01}', 5),
        ("[1.]", 1),
        ("[-]", 1),
        ("[1e+]", 1),
        ('["\\x"]', 2),
        ('["\\u12G4"]', 2),
        ('["a\nb"]', 3),
        ("[tru]", 4),
        ("[nul,", 4),
        ("[}", 1),
        ('{"a":1]', 6),
        ("{1:2}", 1),
        ('{"a":1,}', 7),
        ("[NaN]", 1),
        ("[Infinity]", 1),
        ("[" + "1" * 5000 + "]", 1),
    ],
)
def test_malformed_input_raises_with_position(text: str, position: int) -> None:
    for chunks in ([text], list(text)):
        parser = JsonStreamParser()
        with pytest.raises(JsonStreamError) as info:
            for chunk in chunks:
                parser.feed(chunk)
            parser.flush()
        assert info.value.position == position
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, RillError)
        with pytest.raises(JsonStreamError, match="after an error"):
            parser.feed("x")


@pytest.mark.parametrize(
    ("text", "partial"),
    [
        ('{"a": "b', {"a": "b"}),
        ("[1, [2,", [1, [2]]),
        ('{"a"', {}),
        ('{"a": 12', {}),
        ('["x\\u00', ["x"]),
        ("[tr", []),
    ],
)
def test_incomplete_input_raises_at_close_and_keeps_partial(text: str, partial: Any) -> None:
    parser, assembler = JsonStreamParser(), Assembler()
    assembler.apply(parser.feed(text))
    with pytest.raises(JsonStreamError, match="incomplete JSON") as info:
        parser.flush()
    assert info.value.position == len(text)
    assert assembler.value == partial
    assert not assembler.done


def test_error_carries_ops_produced_before_it() -> None:
    parser, assembler = JsonStreamParser(), Assembler()
    with pytest.raises(JsonStreamError) as info:
        parser.feed('{"a": [1, "two"], "b": }')
    assembler.apply(info.value.ops)
    assert assembler.value == {"a": [1, "two"]}


def test_feed_after_close_raises() -> None:
    parser = JsonStreamParser()
    parser.feed("[]")
    parser.flush()
    assert parser.flush() == []
    with pytest.raises(JsonStreamError, match="after flush"):
        parser.feed("[]")


def test_empty_chunks_are_harmless() -> None:
    value, _, _ = parse_all(["", '{"a"', "", ': "', "", 'b"}', ""])
    assert value == {"a": "b"}


# ------------------------------------------------------------------- exports


def test_all_is_complete() -> None:
    eager = {n for n in vars(rill.structured) if n.isidentifier() and not n.startswith("_")}
    eager -= {"TYPE_CHECKING", "Any"}
    lazy = rill.structured._PARTIAL_NAMES | rill.structured._STREAM_NAMES
    assert set(rill.structured.__all__) == eager | lazy
    for name in rill.structured.__all__:
        assert getattr(rill.structured, name) is not None
    with pytest.raises(AttributeError):
        _ = rill.structured.no_such_name  # type: ignore[attr-defined,unused-ignore]


@pytest.mark.parametrize("module", ["_parser", "_assembler", "_partial"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"rill.structured.{module}"))
    assert result.attempted > 0
    assert result.failed == 0


# ------------------------------------------------- differential vs json.loads


def strict_outcome(chunks: list[str]) -> tuple[str, Any]:
    try:
        value, _, _ = parse_all(chunks, allow_prose=False)
    except JsonStreamError:
        return ("error", None)
    return ("ok", value)


def loads_outcome(text: str) -> tuple[str, Any]:
    try:
        return ("ok", json.loads(text))
    except ValueError:
        return ("error", None)


@settings(deadline=None, max_examples=500)
@given(st.data(), st.text(alphabet='{}[]:,"\\ \n0123456789.-+eEtruefalsnl', max_size=30))
def test_strict_mode_accepts_exactly_what_json_loads_accepts(
    data: st.DataObject, text: str
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=6))
    ours, theirs = strict_outcome(split_at(text, cuts)), loads_outcome(text)
    assert ours[0] == theirs[0]
    assert same(ours[1], theirs[1])
    with contextlib.suppress(JsonStreamError):  # prose mode raises nothing else either
        parse_all(split_at(text, cuts))


@settings(deadline=None, max_examples=300)
@given(st.data(), json_texts())
def test_mutated_documents_agree_with_json_loads(data: st.DataObject, text: str) -> None:
    at = data.draw(st.integers(0, len(text)))
    if data.draw(st.booleans()):
        text = text[:at] + text[at + 1 :]
    else:
        text = text[:at] + data.draw(st.sampled_from(list('{}[]:,"\\ 0-.eu'))) + text[at:]
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=6))
    ours, theirs = strict_outcome(split_at(text, cuts)), loads_outcome(text)
    assert ours[0] == theirs[0]
    assert same(ours[1], theirs[1])
