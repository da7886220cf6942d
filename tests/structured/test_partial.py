from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, field_validator, model_validator

from rill.structured import (
    Assembler,
    JsonStreamError,
    JsonStreamParser,
    ObjectTracker,
    PartialBase,
    Progress,
    StructuredValidationError,
    build_partial,
    partial_model,
    progress,
    validate_final,
)

from . import split_at


class Status(enum.Enum):
    ACTIVE = "active"
    BANNED = "banned"


class Address(BaseModel):
    city: str
    zip_code: str = Field(alias="zip")


class Item(BaseModel):
    sku: str
    qty: int


class User(BaseModel):
    name: str
    age: int
    role: Literal["admin", "user"]
    status: Status
    tags: list[str]
    address: Address
    created: datetime
    items: list[Item] = []
    notes: dict[str, Any] = {}
    nickname: str | None = None


USER = {
    "name": "Ada Lovelace",
    "age": 36,
    "role": "admin",
    "status": "active",
    "tags": ["math", "poetry"],
    "address": {"city": "London", "zip": "W1"},
    "created": "1815-12-10T00:00:00Z",
    "items": [{"sku": "engine", "qty": 1}, {"sku": "notes", "qty": 7}],
    "notes": {"k": [1, "two"]},
    "nickname": None,
}


def snapshots(model: type[BaseModel], text: str, size: int = 1) -> list[PartialBase]:
    """The partial after each ``size``-character chunk, copied: the tracker's is live."""
    tracker = ObjectTracker(model)
    out = []
    for k in range(0, len(text), size):
        tracker.feed(text[k : k + size])
        out.append(tracker.snapshot())
    return out


def test_partials_are_incomplete_but_never_wrong() -> None:
    text = json.dumps(USER, indent=1)
    final = User.model_validate(USER)
    seen_roles, seen_created, seen_names = set(), set(), set()
    for partial in snapshots(User, text):
        assert isinstance(partial, partial_model(User))
        seen_roles.add(partial.role)  # type: ignore[attr-defined]
        seen_created.add(partial.created)  # type: ignore[attr-defined]
        seen_names.add(partial.name)  # type: ignore[attr-defined]
        if partial.status is not None:  # type: ignore[attr-defined]
            assert partial.status is Status.ACTIVE  # type: ignore[attr-defined]
        if partial.age is not None:  # type: ignore[attr-defined]
            assert partial.age == 36  # type: ignore[attr-defined]
        tags = partial.tags or []  # type: ignore[attr-defined]
        assert all(final.tags[i].startswith(t) for i, t in enumerate(tags))
        address = partial.address  # type: ignore[attr-defined]
        if address is not None and address.city is not None:
            assert "London".startswith(address.city)
    assert seen_roles == {None, "admin"}
    assert seen_created == {None, datetime(1815, 12, 10, tzinfo=UTC)}
    assert {n for n in seen_names if n} == {"Ada Lovelace"[:i] for i in range(1, 13)}


def test_close_returns_the_validated_model() -> None:
    tracker = ObjectTracker(User)
    text = "Here you go:\n```json\n" + json.dumps(USER) + "\n```\n"
    for k in range(0, len(text), 7):
        tracker.feed(text[k : k + 7])
    assert tracker.flush() == User.model_validate(USER)
    assert tracker.raw_text == text
    assert tracker.progress().fraction == 1.0


def test_complete_list_items_are_real_models_and_the_last_is_partial() -> None:
    tracker = ObjectTracker(User)
    tracker.feed('{"items": [{"sku": "a", "qty": 1}, {"sku": "b')
    items: Any = tracker.partial.items  # type: ignore[attr-defined]
    assert items[0] == Item(sku="a", qty=1)
    assert items[1].sku == "b"
    assert items[1].qty is None
    assert isinstance(items[1], partial_model(Item))


def test_nested_aliases_and_any() -> None:
    tracker = ObjectTracker(User)
    tracker.feed('{"address": {"zip": "W1", "city": "Lon')
    address = tracker.partial.address  # type: ignore[attr-defined]
    assert (address.city, address.zip_code) == ("Lon", "W1")
    tracker.feed('don"}, "notes": {"k": [1, "tw')
    assert tracker.partial.notes == {"k": [1, "tw"]}  # type: ignore[attr-defined]


def test_literal_and_enum_wait_for_a_complete_valid_string() -> None:
    tracker = ObjectTracker(User)
    tracker.feed('{"role": "adm')
    assert tracker.partial.role is None  # type: ignore[attr-defined]
    tracker.feed('in", "status": "ban')
    assert tracker.partial.role == "admin"  # type: ignore[attr-defined]
    assert tracker.partial.status is None  # type: ignore[attr-defined]
    tracker.feed('nedX", ')
    assert tracker.partial.status is None  # type: ignore[attr-defined]  # invalid: withheld


def test_invalid_final_object_raises_with_raw_text_and_partial() -> None:
    tracker = ObjectTracker(User)
    text = json.dumps({**USER, "role": "root"})
    tracker.feed(text)
    with pytest.raises(StructuredValidationError) as info:
        tracker.flush()
    assert info.value.raw_text == text
    assert info.value.partial.name == "Ada Lovelace"
    assert info.value.partial.role is None
    assert info.value.errors[0]["loc"] == ("role",)
    assert isinstance(info.value, ValueError)


def test_malformed_json_keeps_the_partial() -> None:
    tracker = ObjectTracker(User)
    with pytest.raises(JsonStreamError):
        tracker.feed('{"name": "Ada", "age": 3x')
    assert tracker.partial.name == "Ada"  # type: ignore[attr-defined]
    incomplete = ObjectTracker(User)
    incomplete.feed('{"name": "Ad')
    with pytest.raises(JsonStreamError, match="incomplete"):
        incomplete.flush()
    assert incomplete.partial.name == "Ad"  # type: ignore[attr-defined]


class Audited(BaseModel):
    title: str
    count: int
    seen: list[Any] = []

    @field_validator("title")
    @classmethod
    def shout(cls, value: str) -> str:
        CALLS.append(value)
        return value.upper()

    @model_validator(mode="after")
    def whole(self) -> Audited:
        CALLS.append("model")
        return self


CALLS: list[Any] = []


def test_validators_run_on_complete_values_only_and_once() -> None:
    CALLS.clear()
    partials = snapshots(Audited, '{"title": "hello", "count": 2}')
    assert CALLS == ["hello"]
    titles = [p.title for p in partials]  # type: ignore[attr-defined]
    shown = [t for i, t in enumerate(titles) if t and t != titles[i - 1]]
    # Incomplete strings grow as they are; the validator sees only the whole one.
    assert shown == ["h", "he", "hel", "hell", "hello", "HELLO"]
    tracker = ObjectTracker(Audited)
    tracker.feed('{"title": "x", "count": 2}')
    CALLS.clear()
    result = tracker.flush()
    assert CALLS == ["x", "model"]
    assert (result.title, result.count) == ("X", 2)


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


def test_recursive_models() -> None:
    tracker = ObjectTracker(Tree)
    tracker.feed('{"label": "root", "children": [{"label": "a", "children": [{"label": "a')
    partial = tracker.partial
    assert partial.label == "root"  # type: ignore[attr-defined]
    assert partial.children[0].children[0].label == "a"  # type: ignore[attr-defined]
    tracker.feed('1"}]}]}')
    assert tracker.flush().children[0].children[0].label == "a1"


def test_progress_counts_leaf_fields() -> None:
    tracker = ObjectTracker(User)
    start = tracker.progress()
    assert start == Progress(0, 11, dict.fromkeys(start.fields, False))
    assert "address.city" in start.fields
    tracker.feed('{"name": "Ada", "address": {"city": "London", "zi')
    now = progress(tracker)
    assert now.completed == 2
    assert now.fields["name"]
    assert now.fields["address.city"]
    assert not now.fields["address.zip_code"]
    tracker.feed('p": "W1"}}')
    assert progress(tracker.partial).fraction == 1.0  # missing fields: the object is complete


def test_before_anything_arrives() -> None:
    assembler = Assembler()
    assert build_partial(User, assembler).model_dump() == dict.fromkeys(User.model_fields)
    assembler.apply(JsonStreamParser().feed("[1, 2"))
    assert build_partial(User, assembler).name is None  # type: ignore[attr-defined]


def test_validate_final_directly() -> None:
    assert validate_final(Item, {"sku": "a", "qty": "3"}) == Item(sku="a", qty=3)
    with pytest.raises(StructuredValidationError, match="Item"):
        validate_final(Item, {"sku": "a"}, raw_text="{}", partial=None)


def test_partial_models_are_cached_and_dump() -> None:
    assert partial_model(User) is partial_model(User)
    assert partial_model(User).model_fields["address"].annotation == partial_model(Address) | None
    dumped = ObjectTracker(User)
    dumped.feed('{"address": {"zip": "W')
    assert dumped.partial.model_dump(exclude_unset=True) == {"address": {"zip_code": "W"}}


users = st.fixed_dictionaries(
    {
        "name": st.text(max_size=12),
        "age": st.integers(-5, 200),
        "role": st.sampled_from(["admin", "user"]),
        "status": st.sampled_from(["active", "banned"]),
        "tags": st.lists(st.text(max_size=5), max_size=4),
        "address": st.fixed_dictionaries({"city": st.text(max_size=8), "zip": st.text(max_size=4)}),
        "created": st.just("2024-05-01T12:00:00Z"),
        "items": st.lists(
            st.fixed_dictionaries({"sku": st.text(max_size=4), "qty": st.integers(0, 9)}),
            max_size=3,
        ),
    }
)


def consistent_partial(partial: Any, final: Any) -> bool:
    """Every value shown equals the final one, or is a prefix of a string/list."""
    if isinstance(partial, BaseModel):
        return all(
            value is None or consistent_partial(value, getattr(final, name))
            for name, value in partial
        )
    if isinstance(partial, list):
        return len(partial) <= len(final) and all(
            consistent_partial(p, f) for p, f in zip(partial, final, strict=False)
        )
    if isinstance(partial, str):
        return isinstance(final, str) and final.startswith(partial)
    return bool(partial == final)


@settings(deadline=None, max_examples=50)
@given(st.data(), users)
def test_random_users_stream_consistently(data: st.DataObject, user: dict[str, Any]) -> None:
    text = json.dumps(user, ensure_ascii=data.draw(st.booleans()))
    final = User.model_validate(user)
    tracker = ObjectTracker(User)
    for chunk in split_at(text, data.draw(st.lists(st.integers(0, len(text)), max_size=25))):
        tracker.feed(chunk)
        assert consistent_partial(tracker.partial, final)
    assert tracker.flush() == final
