"""stream_object / stream_items / stream_patches / generate_object end to end,
through the emulator, in each provider's structured mode, sync and async."""

from __future__ import annotations

import enum
from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel, field_validator, model_validator

import rill
from rill.structured import apply_patches
from rill.testing import Emulator, Reply, Script, ScriptedToolCall


class Address(BaseModel):
    city: str
    zip: str


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Profile(BaseModel):
    name: str
    role: Literal["admin", "user"]
    age: int
    colour: Colour
    address: Address
    interests: list[str]


PROFILE = {
    "name": "Alex Chen",
    "role": "admin",
    "age": 34,
    "colour": "green",
    "address": {"city": "Lyon", "zip": "69001"},
    "interests": ["go", "chess", "jazz"],
}
DOC = orjson.dumps(PROFILE).decode()


class User(BaseModel):
    name: str
    email: str


USERS = [{"name": f"user{i}", "email": f"u{i}@example.test"} for i in range(5)]

# provider -> (model string, how the emulator should answer, the request key
# that shows the structured mode was used)
PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("openai/gpt-4o-mini", "text"),
    "anthropic": ("anthropic/claude-haiku-4-5", "tool"),
    "openai-responses": ("openai-responses/gpt-4o-mini", "text"),
    "gemini": ("gemini/gemini-2.5-flash", "text"),
    "ollama": ("ollama/qwen3", "text"),
    "cohere": ("cohere/command-a", "text"),
    "deepseek": ("deepseek/deepseek-chat", "text"),
}
# Where each provider's request shows the structured mode it was given.
MODE_IN_REQUEST = {
    "openai": lambda body: body["response_format"]["json_schema"]["strict"] is True,
    "anthropic": lambda body: body["tool_choice"] == {"type": "tool", "name": "Profile"},
    "openai-responses": lambda body: body["text"]["format"]["type"] == "json_schema",
    "gemini": lambda body: "responseJsonSchema" in body["generationConfig"],
    "ollama": lambda body: body["format"]["type"] == "object",
    "cohere": lambda body: body["response_format"]["type"] == "json_object",
    "deepseek": lambda body: body["response_format"] == {"type": "json_object"},
}


def script(kind: str, document: str, **kw: Any) -> Script:
    if kind == "tool":
        return Script(replies=(Reply(tool_calls=(ScriptedToolCall("Profile", document),)),), **kw)
    return Script.of_text(document, **kw)


def opts(emu: Emulator, model: str) -> dict[str, Any]:
    native = ("anthropic/", "ollama/", "cohere/")
    base = emu.url if model.startswith(native) else emu.base_url
    if model.startswith("gemini/"):
        base = f"{emu.url}/v1beta"
    return {"model": model, "base_url": base, "api_key": "test"}


def assert_consistent(partial: Any, final: dict[str, Any]) -> None:
    """A partial is never wrong, only incomplete."""
    for key, value in partial.model_dump(mode="json").items():
        if value is None:
            continue
        expected = final[key]
        if isinstance(value, str):
            assert expected.startswith(value), (key, value)
        elif isinstance(value, list):
            assert len(value) <= len(expected)
            for got, want in zip(value[:-1], expected, strict=False):
                assert got == want
            if value:
                last = value[-1]
                want = expected[len(value) - 1]
                assert want.startswith(last) if isinstance(last, str) else last == want
        elif isinstance(value, dict):
            assert_consistent_dict(value, expected)
        else:
            assert value == expected, (key, value)


def assert_consistent_dict(value: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, got in value.items():
        if got is not None:
            assert expected[key].startswith(got) if isinstance(got, str) else got == expected[key]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_stream_object_in_each_providers_mode(rill_emulator: Emulator, provider: str) -> None:
    model, kind = PROVIDERS[provider]
    # Paced like the async twin: partials follow network reads, and rill's
    # own sync client, like aiohttp, reads whatever arrived, several events
    # at once when the server wrote them close together.
    rill_emulator.enqueue(script(kind, DOC, tokens_per_second=400))
    partials = []
    first_partial_before_end = None
    with rill.stream_object("A profile", Profile, **opts(rill_emulator, model)) as stream:
        live = None
        for partial in stream:
            if first_partial_before_end is None:
                first_partial_before_end = stream.response.finish_reason is None
            assert live is None or partial is live  # one object, updated in place
            live = partial
            partials.append(partial.model_copy(deep=True))
            assert_consistent(partial, PROFILE)
        final = stream.final
    assert final == Profile.model_validate(PROFILE)
    assert first_partial_before_end is True
    assert len(partials) > 5
    # A Literal / enum appears whole or not at all; the number only when complete.
    assert {p.role for p in partials} == {None, "admin"}
    assert {p.colour for p in partials} == {None, Colour.GREEN}
    assert {p.age for p in partials} == {None, 34}
    assert rill.progress(partials[-1]).completed == rill.progress(partials[-1]).total
    names = [p.name for p in partials if p.name]
    assert names[0] != "Alex Chen"  # the string grew in pieces
    assert MODE_IN_REQUEST[provider](rill_emulator.requests[0].json)


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_astream_object(rill_emulator: Emulator, provider: str) -> None:
    model, kind = PROVIDERS[provider]
    rill_emulator.enqueue(script(kind, DOC, tokens_per_second=400))
    stream = rill.astream_object("A profile", Profile, **opts(rill_emulator, model))
    names = []
    async for partial in stream:
        assert_consistent(partial, PROFILE)
        names.append(partial.name)
    assert names[-1] == "Alex Chen"
    assert len(set(names)) > 2  # the name grew in pieces
    assert await stream.afinal() == Profile.model_validate(PROFILE)


def test_progress_counts_nested_fields(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(script("text", DOC))
    stream = rill.stream_object("A profile", Profile, **opts(rill_emulator, "openai/gpt-4o-mini"))
    seen = []
    for partial in stream:
        progress = rill.progress(partial)
        seen.append(progress.completed)
        assert progress.total == 7  # name, role, age, colour, address.city, address.zip, interests
    assert seen == sorted(seen) and seen[-1] == 7
    assert stream.progress.fraction == 1.0


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_stream_items(rill_emulator: Emulator, provider: str) -> None:
    model, kind = PROVIDERS[provider]
    document = orjson.dumps({"items": USERS}).decode()
    if kind == "tool":
        rill_emulator.enqueue(
            Script(replies=(Reply(tool_calls=(ScriptedToolCall("UserList", document),)),))
        )
    else:
        rill_emulator.enqueue(Script.of_text(document))
    received = []
    stream = rill.stream_items("Five users", User, **opts(rill_emulator, model))
    for user in stream:
        received.append(user)
        # each item is yielded once, complete, before the list has ended
        assert isinstance(user, User)
    assert [u.model_dump() for u in received] == USERS


def test_stream_items_from_a_bare_top_level_array(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(
        Script.of_text("Here you go:\n```json\n" + orjson.dumps(USERS).decode() + "\n```")
    )
    items = list(
        rill.stream_items("users", User, mode="text", **opts(rill_emulator, "openai/gpt-4o-mini"))
    )
    assert [u.model_dump() for u in items] == USERS


async def test_astream_items(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(orjson.dumps({"items": USERS}).decode()))
    stream = rill.astream_items("users", User, **opts(rill_emulator, "openai/gpt-4o-mini"))
    assert [u.name async for u in stream] == [u["name"] for u in USERS]


def test_an_invalid_item_raises_with_the_raw_text(rill_emulator: Emulator) -> None:
    bad = [USERS[0], {"name": "no email"}, USERS[2]]
    rill_emulator.enqueue(Script.of_text(orjson.dumps({"items": bad}).decode()))
    received = []
    with pytest.raises(rill.StructuredValidationError, match="item 1") as info:
        for user in rill.stream_items("users", User, **opts(rill_emulator, "openai/gpt-4o-mini")):
            received.append(user)
    assert [u.name for u in received] == ["user0"]
    assert '"no email"' in info.value.raw_text


def patch_bytes(emu: Emulator, interests: int) -> tuple[int, int, int]:
    """Bytes of patches sent, size of the object, and number of updates."""
    big = {**PROFILE, "interests": [f"interest number {i}" for i in range(interests)]}
    emu.enqueue(script("text", orjson.dumps(big).decode()))
    patches = list(rill.stream_patches("A profile", Profile, **opts(emu, "openai/gpt-4o-mini")))
    assert apply_patches(None, patches) == big
    assert any(p["op"] == "append" for p in patches)
    return sum(len(orjson.dumps(p)) for p in patches), len(orjson.dumps(big)), len(patches)


def test_stream_patches_rebuild_the_object_in_linear_bytes(rill_emulator: Emulator) -> None:
    small_sent, small_size, _ = patch_bytes(rill_emulator, 50)
    big_sent, big_size, updates = patch_bytes(rill_emulator, 400)
    assert big_sent / big_size <= 1.2 * small_sent / small_size  # linear, not quadratic
    assert big_sent * 20 < updates * big_size // 2  # resending the object would cost this


async def test_astream_patches(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(script("text", DOC))
    stream = rill.astream_patches("A profile", Profile, **opts(rill_emulator, "openai/gpt-4o-mini"))
    assert apply_patches(None, [p async for p in stream]) == PROFILE


class Strict(BaseModel):
    name: str
    score: int

    @field_validator("name")
    @classmethod
    def capitalised(cls, value: str) -> str:
        if not value[:1].isupper():
            raise ValueError("name must be capitalised")
        return value

    @model_validator(mode="after")
    def positive(self) -> Strict:
        if self.score < 0:
            raise ValueError("score must not be negative")
        return self


def test_validators_do_not_run_on_half_built_values(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text('{"name": "Ada Lovelace", "score": 3}'))
    partials = list(rill.stream_object("x", Strict, **opts(rill_emulator, "openai/gpt-4o-mini")))
    assert partials[-1].name == "Ada Lovelace"


def test_final_validation_failure_carries_raw_text_and_partial(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text('{"name": "Ada", "score": -1}'))
    stream = rill.stream_object("x", Strict, **opts(rill_emulator, "openai/gpt-4o-mini"))
    with pytest.raises(rill.StructuredValidationError) as info:
        list(stream)
    assert info.value.raw_text == '{"name": "Ada", "score": -1}'
    assert info.value.partial is not None and info.value.partial.name == "Ada"


def test_malformed_json_is_a_structured_error(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text('{"name": "Ada", "score": }'))
    with pytest.raises(rill.StructuredValidationError, match="malformed") as info:
        rill.generate_object("x", Strict, **opts(rill_emulator, "openai/gpt-4o-mini"))
    assert info.value.raw_text.startswith('{"name"')


def test_generate_object_retries_with_the_error_fed_back(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(
        Script.of_text('{"name": "ada", "score": 1}'), Script.of_text('{"name": "Ada", "score": 1}')
    )
    result = rill.generate_object(
        "x", Strict, max_retries_on_invalid=1, **opts(rill_emulator, "openai/gpt-4o-mini")
    )
    assert result == Strict(name="Ada", score=1)
    retry = rill_emulator.requests[1].json["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"name": "ada", "score": 1}'}
    assert "capitalised" in retry[-1]["content"]


async def test_agenerate_object(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text('{"name": "Ada", "score": 2}'))
    result = await rill.agenerate_object("x", Strict, **opts(rill_emulator, "openai/gpt-4o-mini"))
    assert result == Strict(name="Ada", score=2)


class Loose(BaseModel):
    name: str
    nickname: str | None = None


def test_optional_fields_are_sent_non_strict(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text('{"name": "Ada"}'))
    assert (
        rill.generate_object("x", Loose, **opts(rill_emulator, "openai/gpt-4o-mini")).name == "Ada"
    )
    assert rill_emulator.requests[0].json["response_format"]["json_schema"]["strict"] is False


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("json", lambda body: body["response_format"] == {"type": "json_object"}),
        ("text", lambda body: "response_format" not in body),
        ("tool", lambda body: body["tool_choice"]["function"]["name"] == "Loose"),
    ],
)
def test_modes_can_be_chosen(rill_emulator: Emulator, mode: rill.Mode, check: Any) -> None:
    document = '{"name": "Ada"}'
    if mode == "tool":
        rill_emulator.enqueue(
            Script(replies=(Reply(tool_calls=(ScriptedToolCall("Loose", document),)),))
        )
    else:
        rill_emulator.enqueue(Script.of_text("Sure! " + document))
    result = rill.generate_object(
        "x", Loose, mode=mode, **opts(rill_emulator, "openai/gpt-4o-mini")
    )
    assert result.name == "Ada"
    body = rill_emulator.requests[0].json
    assert check(body)
    if mode in ("json", "text"):
        assert body["messages"][0]["role"] == "system"
        assert '"name"' in body["messages"][0]["content"]


def test_bad_structured_calls_raise_at_the_call() -> None:
    with pytest.raises(rill.InvalidRequestError, match="structured mode"):
        rill.stream_object("x", Loose, model="vllm/m", mode="yaml")  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidRequestError, match="one choice"):
        rill.stream_object("x", Loose, model="vllm/m", n=2)
    with pytest.raises(rill.InvalidRequestError, match="response_format"):
        rill.stream_object("x", Loose, model="vllm/m", response_format={"type": "json_object"})
