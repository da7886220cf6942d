"""``rill.Client``: defaults, retries and fallbacks against the emulator over HTTP."""

from __future__ import annotations

import logging

import pytest

import rill
from rill import Message, MessageRole
from rill.testing import Emulator, Fault, Script

TEXT = "Fallbacks answer only when nothing reached the caller."


def client(emu: Emulator, **kw: object) -> rill.Client:
    return rill.Client(
        api_keys={"openai": "sk-test-openai-1234", "anthropic": "sk-ant-test-5678"},
        base_urls={"openai": emu.base_url, "anthropic": emu.url},
        **kw,  # type: ignore[arg-type]
    )


def test_client_defaults_fill_the_call(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, model="openai/gpt-4o-mini", temperature=0.25, system="Be brief.")
    rill_emulator.enqueue(Script.of_text(TEXT), Script.of_text(TEXT))
    assert c.generate("Hi").content == TEXT
    sent = rill_emulator.requests[-1]
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.json["temperature"] == 0.25
    assert sent.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent.headers["authorization"] == "Bearer sk-test-openai-1234"
    # a call's own arguments win
    c.generate("Hi", temperature=0.75, api_key="sk-other-key-9999")
    sent = rill_emulator.requests[-1]
    assert sent.json["temperature"] == 0.75
    assert sent.headers["authorization"] == "Bearer sk-other-key-9999"


def test_misconfiguration_raises_at_the_call(rill_emulator: Emulator) -> None:
    with pytest.raises(rill.InvalidRequestError, match="model= is required"):
        rill.Client().generate_stream("Hi")
    with pytest.raises(rill.UnknownProviderError):
        rill.Client(fallbacks=["nope/model"])
    with pytest.raises(rill.InvalidRequestError, match="list of models"):
        rill.Client(fallbacks="openai/gpt-4o")
    with pytest.raises(rill.UnknownProviderError):
        rill.Client(api_keys={"nope": "x"})
    # a fallback whose provider has no key fails at the call, not mid-way
    c = rill.Client(
        api_keys={"openai": "sk-test"},
        base_urls={"openai": rill_emulator.base_url},
        fallbacks=["anthropic/claude-haiku-4-5"],
    )
    with pytest.raises(rill.MissingAPIKeyError):
        c.generate_stream("Hi", model="openai/gpt-4o-mini")
    assert rill_emulator.requests == []


def test_a_429_is_retried_then_succeeds(rill_emulator: Emulator) -> None:
    c = client(rill_emulator)
    rill_emulator.enqueue(Script.of_status(429, headers={"retry-after": "0"}), Script.of_text(TEXT))
    response = c.generate("Hi", model="openai/gpt-4o-mini")
    assert response.content == TEXT
    assert response.attempts == 2
    assert response.model == "gpt-4o-mini"
    assert len(rill_emulator.requests) == 2


def test_failure_before_output_falls_back_across_wire_formats(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, fallbacks=["anthropic/claude-haiku-4-5"], max_retries=1)
    rill_emulator.enqueue(
        Script.of_status(503),
        Script.of_status(503),  # the one retry of the first model
        Script.of_text(TEXT, model="claude-haiku-4-5"),
    )
    history = [
        Message(MessageRole.USER, "Hi"),
        rill.GenerationResponse(content="Hello", provider="openai").to_message(),
        Message(MessageRole.USER, "Again"),
    ]
    with c.generate_stream(history, model="openai/gpt-4o-mini") as stream:
        text = "".join(chunk.content for chunk in stream)
        response = stream.response
    assert text == TEXT
    assert response.provider == "anthropic"
    assert response.model == "claude-haiku-4-5"
    assert response.attempts == 3
    paths = [r.path for r in rill_emulator.requests]
    assert paths == ["/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]
    anthropic = rill_emulator.requests[-1]
    assert anthropic.headers["x-api-key"] == "sk-ant-test-5678"
    assert "authorization" not in anthropic.headers
    assert [m["role"] for m in anthropic.json["messages"]] == ["user", "assistant", "user"]


def test_failure_after_output_never_falls_back_nor_repeats(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, fallbacks=["anthropic/claude-haiku-4-5"])
    rill_emulator.enqueue(
        Script.of_text(TEXT, faults=(Fault.close_after(1200),)),
        Script.of_text("never sent"),
    )
    received: list[str] = []
    with pytest.raises(rill.IncompleteStreamError) as info:
        for chunk in c.generate_stream("Hi", model="openai/gpt-4o-mini"):
            received.append(chunk.content)
    text = "".join(received)
    assert text and TEXT.startswith(text) and text != TEXT
    assert info.value.partial is not None and info.value.partial.content == text
    assert len(rill_emulator.requests) == 1


def test_every_model_failing_raises_the_last_error(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, fallbacks=["openai/gpt-4o"], max_retries=0)
    rill_emulator.enqueue(Script.of_status(500), Script.of_status(401))
    with pytest.raises(rill.AuthenticationError):
        c.generate("Hi", model="openai/gpt-4o-mini")
    assert [r.json["model"] for r in rill_emulator.requests] == ["gpt-4o-mini", "gpt-4o"]


async def test_async_fallback(rill_emulator: Emulator) -> None:
    c = client(rill_emulator, fallbacks=["openai/gpt-4o"], max_retries=0)
    rill_emulator.enqueue(Script.of_status(500), Script.of_text(TEXT))
    response = await c.agenerate("Hi", model="openai/gpt-4o-mini")
    assert (response.content, response.model, response.attempts) == (TEXT, "gpt-4o", 2)


def test_debug_log_one_record_per_request_and_retry_never_a_key(
    rill_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(rill_emulator, fallbacks=["anthropic/claude-haiku-4-5"], max_retries=1)
    rill_emulator.enqueue(
        Script.of_status(429, headers={"retry-after": "0"}),
        Script.of_status(503, headers={"retry-after": "0"}),
        Script.of_text(TEXT),
    )
    with caplog.at_level(logging.DEBUG, logger="rill"):
        c.generate("Hi", model="openai/gpt-4o-mini")
    records = [r.getMessage() for r in caplog.records if r.name == "rill"]
    assert sum(m.startswith("request ") for m in records) == 3
    assert sum(m.startswith("retry ") for m in records) == 1
    assert sum(m.startswith("fall back ") for m in records) == 1
    for message in records:
        assert "sk-test-openai-1234" not in message and "sk-ant-test-5678" not in message


def test_structured_streaming_takes_a_client(rill_emulator: Emulator) -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str

    c = client(rill_emulator, model="openai/gpt-4o-mini", fallbacks=["openai/gpt-4o"])
    rill_emulator.enqueue(Script.of_status(500), Script.of_text('{"name": "Lyon"}'))
    stream = rill.stream_object("A city", City, client=c, max_retries=0)
    assert stream.final == City(name="Lyon")
    assert stream.response.model == "gpt-4o"


def test_every_client_method_has_its_async_twin() -> None:
    names = {n for n in dir(rill.Client) if not n.startswith("_")}
    for name in ("generate", "generate_stream", "generate_batch"):
        assert name in names and f"a{name}" in names


def test_bad_defaults_raise_when_the_client_is_made() -> None:
    with pytest.raises(rill.InvalidRequestError):
        rill.Client(timeout=-1)
    with pytest.raises(rill.InvalidRequestError):
        rill.Client(max_retries=-1)
    with pytest.raises(rill.InvalidRequestError):
        rill.Client(temperature="hot")  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidModelError):
        rill.Client(model="no-provider-model")


def test_keys_stay_out_of_the_repr() -> None:
    c = rill.Client(model="openai/gpt-4o", api_keys={"openai": "sk-secret-key-12345"})
    assert "sk-secret-key-12345" not in repr(c)
    assert "sk-secret-key-12345" not in str(vars(c))


def test_the_clients_http_clients_are_used(rill_emulator: Emulator) -> None:
    import httpx

    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as http:
        c = client(rill_emulator, model="openai/gpt-4o-mini", http_client=http)
        c.generate("Hi")
    assert seen == [rill_emulator.base_url + "/chat/completions"]
    with pytest.raises(rill.InvalidRequestError):
        rill.Client(http_client=object())  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidRequestError):
        rill.Client(async_http_client=object())  # type: ignore[arg-type]


async def test_the_clients_async_http_client_is_used(rill_emulator: Emulator) -> None:
    import httpx

    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [hook]}) as http:
        c = client(rill_emulator, model="openai/gpt-4o-mini", async_http_client=http)
        await c.agenerate("Hi")
    assert seen == ["/v1/chat/completions"]
