"""The live partial object: one instance updated in place, at a cost per update
that follows what changed, not the size of the document."""

from __future__ import annotations

import cProfile
import json
import pstats
import random
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rill.structured import ObjectTracker, _live, build_partial, partial_model, progress

from . import split_at
from .test_partial import USER, User, users


class Row(BaseModel):
    id: int
    name: str
    region: Literal["north", "south"]
    revenue: float
    note: str

    @field_validator("note")
    @classmethod
    def count(cls, value: str) -> str:
        VALIDATIONS.append(value)
        return value


class Report(BaseModel):
    title: str
    rows: list[Row]


VALIDATIONS: list[str] = []


def report(size: int) -> tuple[str, int]:
    """The JSON text of a report of about ``size`` characters, and its row count."""
    rng = random.Random(size)
    rows: list[dict[str, Any]] = []
    length = 0
    while length < size:
        row = {
            "id": len(rows),
            "name": rng.choice(["espresso", "flat white", "cortado"]) * rng.randint(1, 3),
            "region": rng.choice(["north", "south"]),
            "revenue": round(rng.uniform(0, 1e5), 2),
            "note": rng.choice(["steady", 'up after the "summer" promo', "new store\nopened"]),
        }
        rows.append(row)
        length += len(json.dumps(row))
    return json.dumps({"title": "Quarterly sales", "rows": rows}), len(rows)


def test_one_object_updated_in_place() -> None:
    text, _ = report(2_000)
    tracker = ObjectTracker(Report)
    live = tracker.partial
    first_row = rows = None
    for k in range(0, len(text), 4):
        tracker.feed(text[k : k + 4])
        assert tracker.partial is live
        if rows is None and live.rows:  # type: ignore[attr-defined]
            rows = live.rows  # type: ignore[attr-defined]
        if rows is not None:
            # never copied: a complete list[Row] is its items, validated already
            assert live.rows is rows  # type: ignore[attr-defined]
        if first_row is None and len(rows or ()) > 1:
            first_row = live.rows[0]  # type: ignore[attr-defined]
            assert type(first_row) is Row  # complete: a real, validated instance
        if first_row is not None:
            assert live.rows[0] is first_row  # type: ignore[attr-defined]
    final = tracker.flush()
    assert live.model_dump() == final.model_dump()
    assert live.complete_fields == {"title", "rows"}


def test_snapshot_keeps_one_state() -> None:
    tracker = ObjectTracker(User)
    tracker.feed('{"tags": ["x"], "name": "Ad')
    kept = tracker.snapshot()
    tracker.feed('a", "address": {"city": "L')
    assert (kept.name, kept.tags, kept.address) == ("Ad", ["x"], None)  # type: ignore[attr-defined]
    assert type(kept) is partial_model(User)
    assert kept.complete_fields == {"tags"}
    assert tracker.partial.name == "Ada"  # type: ignore[attr-defined]
    assert tracker.partial.complete_fields == {"name", "tags"}


def count_partials(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    made: list[type] = []
    new_partial = _live.new_partial

    def counting(cls: type[BaseModel]) -> Any:
        made.append(cls)
        return new_partial(cls)

    monkeypatch.setattr(_live, "new_partial", counting)
    return made


def calls_per_feed(text: str) -> list[int]:
    """Function calls (Python and builtin) made by each ``feed`` of the text in
    4-character chunks, and by reading the partial after it."""
    tracker = ObjectTracker(Report)
    profiler = cProfile.Profile()
    counts = []
    for k in range(0, len(text), 4):
        chunk = text[k : k + 4]
        profiler.enable()
        tracker.feed(chunk)
        tracker.partial.title  # type: ignore[attr-defined]  # noqa: B018 - as a caller would
        profiler.disable()
        counts.append(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]
        profiler.clear()
    return counts


def test_each_update_costs_what_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    made = count_partials(monkeypatch)
    sizes = {}
    for size in (10_000, 1_000_000):
        text, rows = report(size)
        made.clear()
        VALIDATIONS.clear()
        tracker = ObjectTracker(Report)
        for k in range(0, len(text), 4):
            tracker.feed(text[k : k + 4])
        tracker.flush()
        # One partial per object, and each row's note validated a bounded
        # number of times (alone, in its row, in the final object).
        assert made.count(partial_model(Row)) == rows
        assert len(VALIDATIONS) == 3 * rows
        sizes[size] = text, rows
    # Calls per chunk stay flat from 10 KB to 1 MB (the first quarter of it,
    # to keep the test quick), and so does the most any one chunk costs
    # (leaving out the first chunk, and the last, which validates the list).
    small = calls_per_feed(sizes[10_000][0])[1:-1]
    large_text = sizes[1_000_000][0]
    large = calls_per_feed(large_text[: len(large_text) // 4])[1:]
    assert sum(large) / len(large) <= 1.1 * sum(small) / len(small)
    assert max(large) <= max(small)


def test_lists_stop_at_an_invalid_item_and_dicts_withhold_one() -> None:
    class Pair(BaseModel):
        sku: str
        qty: int

    class Order(BaseModel):
        items: list[Pair]
        totals: dict[str, int]
        either: str | list[str] | None = None

    tracker = ObjectTracker(Order)
    tracker.feed('{"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": "x"}, {"sku": "c')
    assert tracker.partial.items == [Pair(sku="a", qty=1)]  # type: ignore[attr-defined]
    tracker.feed('", "qty": 3}')
    assert tracker.partial.items == [Pair(sku="a", qty=1)]  # type: ignore[attr-defined]
    tracker.feed('], "totals": {"a": 1, "b": "no", "c": 3, "d')
    assert tracker.partial.items is None  # type: ignore[attr-defined]  # complete, invalid
    assert tracker.partial.totals == {"a": 1, "c": 3}  # type: ignore[attr-defined]
    tracker.feed('": 4}, "either": ["p", "q')
    assert tracker.partial.either == ["p", "q"]  # type: ignore[attr-defined]
    assert progress(tracker).fields == {"items": False, "totals": False, "either": False}


def test_a_list_with_constraints_is_validated_whole() -> None:
    class Pair(BaseModel):
        sku: str

    class Short(BaseModel):
        plain: list[Pair] | None = None
        short: list[Pair] = Field(max_length=1)

    tracker = ObjectTracker(Short)
    tracker.feed('{"plain": [{"sku": "a"}, {"sku": "b"}], "short": [{"sku": "a"}, {"sku": "b"}')
    assert tracker.partial.plain == [Pair(sku="a"), Pair(sku="b")]  # type: ignore[attr-defined]
    assert len(tracker.partial.short) == 2  # type: ignore[attr-defined]
    tracker.feed("]")
    assert tracker.partial.short is None  # type: ignore[attr-defined]  # too long: withheld
    assert tracker.partial.complete_fields == {"plain"}


def test_a_document_that_is_not_an_object_shows_nothing() -> None:
    tracker = ObjectTracker(User)
    tracker.feed('[{"name": "Ada"}, "x')
    assert tracker.partial.model_dump() == dict.fromkeys(User.model_fields)


@settings(deadline=None, max_examples=50)
@given(st.data(), users)
def test_live_equals_one_shot_whatever_the_chunking(
    data: st.DataObject, user: dict[str, Any]
) -> None:
    user = {**user, "notes": {"k": [1, {"deep": "x" * 5}]}}
    text = json.dumps(user, ensure_ascii=data.draw(st.booleans()))
    tracker = ObjectTracker(User)
    for chunk in split_at(text, data.draw(st.lists(st.integers(0, len(text)), max_size=25))):
        tracker.feed(chunk)
        # build_partial replays the document with every complete string whole
        once = build_partial(User, tracker.assembler)
        assert tracker.partial == once
        assert tracker.partial.model_fields_set == once.model_fields_set
        assert tracker.partial.complete_fields == once.complete_fields


def test_build_partial_of_the_whole_document() -> None:
    tracker = ObjectTracker(User)
    tracker.feed(json.dumps(USER))
    tracker.flush_document()
    once = build_partial(User, tracker.assembler)
    assert once == tracker.partial
    assert once is not tracker.partial
    assert progress(once).fraction == 1.0


def test_plain_values_skip_validation_only_where_it_changes_nothing() -> None:
    class Tidy(BaseModel):
        model_config = ConfigDict(str_strip_whitespace=True)
        name: str
        ratio: float

    class Finite(BaseModel):
        model_config = ConfigDict(allow_inf_nan=False)
        ratio: float
        count: float

    tidy = ObjectTracker(Tidy)
    tidy.feed('{"name": " Ada ", "other": [1, "x"], "ratio": 1e400, ')
    assert (tidy.partial.name, tidy.partial.ratio) == ("Ada", float("inf"))  # type: ignore[attr-defined]
    finite = ObjectTracker(Finite)
    finite.feed('{"ratio": 1e400, "count": 3, ')
    assert finite.partial.ratio is None  # type: ignore[attr-defined]
    assert type(finite.partial.count) is float  # type: ignore[attr-defined]
