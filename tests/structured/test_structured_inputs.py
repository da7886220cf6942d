"""What structured streaming accepts: pydantic models only (other types are
refused at the call, before any I/O), and in every mode but ``text`` exactly
one JSON value (trailing text or a second value is an error, not ignored)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import BaseModel

import rill
from rill.structured import ObjectTracker, StructuredValidationError, progress
from rill.testing import Emulator, Script


class Item(BaseModel):
    name: str


class Outer(BaseModel):
    item: Item
    count: int


@dataclasses.dataclass
class Point:
    x: int


def opts(emu: Emulator, **kw: Any) -> dict[str, Any]:
    return {"model": "openai/gpt-4o-mini", "base_url": emu.base_url, "api_key": "test", **kw}


@pytest.mark.parametrize("schema", [dict, list[int], Point, dict[str, Any], 5, Item(name="x")])
def test_a_schema_that_is_not_a_model_is_refused_at_the_call(
    rill_emulator: Emulator, schema: Any
) -> None:
    with pytest.raises(rill.ConfigurationError, match="pydantic model class"):
        rill.generate_object("x", schema, **opts(rill_emulator))
    with pytest.raises(rill.ConfigurationError, match=r"stream_object\(\) takes a pydantic"):
        rill.stream_object("x", schema, **opts(rill_emulator))
    with pytest.raises(rill.ConfigurationError, match="pydantic model class"):
        rill.stream_patches("x", schema, **opts(rill_emulator))
    assert rill_emulator.requests == []


async def test_async_functions_refuse_it_too(rill_emulator: Emulator) -> None:
    with pytest.raises(rill.ConfigurationError, match=r"agenerate_object\(\)"):
        await rill.agenerate_object("x", dict, **opts(rill_emulator))  # type: ignore[type-var]
    with pytest.raises(rill.ConfigurationError, match=r"astream_object\(\)"):
        rill.astream_object("x", list[int], **opts(rill_emulator))  # type: ignore[type-var]
    assert rill_emulator.requests == []


def test_stream_items_takes_any_type_pydantic_validates(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text('{"items": [{"x": 1}, {"x": 2}]}'))
    assert list(rill.stream_items("x", Point, **opts(rill_emulator))) == [Point(1), Point(2)]
    with pytest.raises(rill.ConfigurationError, match="stream_items"):
        rill.stream_items("x", 5, **opts(rill_emulator))  # type: ignore[arg-type]


def test_progress_of_something_that_is_not_a_model_is_refused() -> None:
    for value in ({"a": 1}, [1], Point(1), Item):
        with pytest.raises(rill.ConfigurationError, match="progress"):
            progress(value)  # type: ignore[arg-type]
    with pytest.raises(rill.ConfigurationError):
        rill.progress({"a": 1})  # type: ignore[arg-type]


def test_progress_of_a_final_object_is_complete() -> None:
    done = progress(Outer(item=Item(name="a"), count=1))
    assert (done.completed, done.total) == (2, 2)
    tracker = ObjectTracker(Outer)
    tracker.feed('{"item": {"name": "a"}')
    assert progress(tracker).fields == {"item.name": True, "count": False}


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "a"} garbage',
        '{"name": "a"}{"name": "b"}',
        '{"name": "a"}\n{"name": "b"}',
        '{"name": "a"} ```',
        '{"name": "a"}]',
    ],
)
def test_anything_after_the_json_is_an_error_in_json_schema_mode(
    rill_emulator: Emulator, text: str
) -> None:
    rill_emulator.enqueue(Script.of_text(text))
    with pytest.raises(StructuredValidationError) as info:
        rill.generate_object("x", Item, mode="json_schema", **opts(rill_emulator))
    assert info.value.raw_text == text
    assert info.value.partial is not None and info.value.partial.name == "a"


def test_trailing_whitespace_is_fine_in_strict_modes(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text('  {"name": "a"} \n'))
    assert rill.generate_object("x", Item, mode="json_schema", **opts(rill_emulator)).name == "a"


@pytest.mark.parametrize("mode", ["text", "json"])
def test_text_and_json_modes_still_find_json_in_prose(
    rill_emulator: Emulator, mode: rill.Mode
) -> None:
    rill_emulator.enqueue(Script.of_text('Sure:\n```json\n{"name": "a"}\n```\nAnything else?'))
    assert rill.generate_object("x", Item, mode=mode, **opts(rill_emulator)).name == "a"
