"""``/v1/chat/completions`` with the official ``openai`` SDK as the client,
the emulator as the upstream: the SDK gets the text, tool calls and usage
rill gets when it calls the emulator directly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

import rill
from rill.server._app import RillServer
from rill.server._config import ServerConfig
from rill.testing import Emulator, Script, ScriptedToolCall

from .conftest import UPSTREAM_KEY
from .serving import ServerThread

TEXT = "Tokens arrive one by one; the reader starts at the first."
CALLS = [
    ScriptedToolCall("get_weather", {"city": "Paris", "unit": "c"}),
    ScriptedToolCall("get_time", {"zone": "Europe/Paris"}),
]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": "look it up",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    for name in ("get_weather", "get_time")
]
MODEL = "openai/gpt-4o-mini"


@pytest.fixture
def server(upstream: Emulator) -> Iterator[str]:
    config = ServerConfig(api_keys=frozenset({"k1"}))
    with ServerThread(RillServer(config)) as thread:
        yield thread.url + "/v1"


def _direct(upstream: Emulator, script: Script, **kw: Any) -> rill.GenerationResponse:
    upstream.enqueue(script)
    return rill.generate("hi", model=MODEL, **kw)


def _calls(response: rill.GenerationResponse) -> list[tuple[str, str, str]]:
    return [(c.id, c.name, c.arguments) for c in response.tool_calls]


@pytest.fixture
def sdk() -> Iterator[Callable[..., openai.OpenAI]]:
    """Makes ``openai.OpenAI`` clients, closed (with their pooled connections)
    at the end of the test."""
    made: list[openai.OpenAI] = []

    def make(server: str, api_key: str = "k1") -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=server, api_key=api_key, max_retries=0))
        return made[-1]

    yield make
    for client in made:
        client.close()


def _stream_sync(client: openai.OpenAI, **kw: Any) -> dict[str, Any]:
    text, usage, finish = "", None, None
    calls: dict[int, Any] = {}
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
        **kw,
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, ["", "", ""])
                entry[0] = call.id or entry[0]
                entry[1] = (call.function.name if call.function else None) or entry[1]
                entry[2] += (call.function.arguments if call.function else None) or ""
    return {
        "text": text,
        "calls": [tuple(calls[i]) for i in sorted(calls)],
        "usage": usage,
        "finish": finish,
    }


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool_calls"])
def test_sync_sdk_streams_what_rill_gets(
    server: str, upstream: Emulator, tools: bool, sdk: Callable[..., openai.OpenAI]
) -> None:
    script = Script.of_tool_calls(CALLS) if tools else Script.of_text(TEXT)
    kw: dict[str, Any] = {"tools": TOOLS} if tools else {}
    direct = _direct(upstream, script, **kw)
    upstream.enqueue(script)
    client = sdk(server)
    got = _stream_sync(client, **kw)
    assert got["text"] == direct.content
    assert got["calls"] == _calls(direct)
    assert got["finish"] == direct.finish_reason
    assert got["usage"].prompt_tokens == direct.usage.prompt_tokens
    assert got["usage"].completion_tokens == direct.usage.completion_tokens
    assert got["usage"].total_tokens == direct.usage.total_tokens
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # the server's key, not k1
    if tools:
        assert [t["function"]["name"] for t in sent.params["tools"]] == ["get_weather", "get_time"]


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool_calls"])
def test_sync_sdk_whole_response(
    server: str, upstream: Emulator, tools: bool, sdk: Callable[..., openai.OpenAI]
) -> None:
    script = Script.of_tool_calls(CALLS) if tools else Script.of_text(TEXT)
    kw: dict[str, Any] = {"tools": TOOLS} if tools else {}
    direct = _direct(upstream, script, **kw)
    upstream.enqueue(script)
    client = sdk(server)
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], **kw
    )
    message = completion.choices[0].message
    assert (message.content or "") == direct.content
    calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]
    assert calls == _calls(direct)
    assert completion.choices[0].finish_reason == direct.finish_reason
    assert completion.usage is not None
    assert completion.usage.completion_tokens == direct.usage.completion_tokens
    assert completion.usage.prompt_tokens == direct.usage.prompt_tokens


# The SDK stops reading at [DONE] and leaves its own (and its HTTP client's)
# byte generators to trio's finalizer, which warns; ``async with`` closes the
# response itself.
@pytest.mark.filterwarnings("ignore:Async generator 'openai\\.:ResourceWarning")
@pytest.mark.filterwarnings("ignore:Async generator 'httpx2\\.:ResourceWarning")
@pytest.mark.filterwarnings("ignore:Async generator 'httpcore2\\.:ResourceWarning")
async def test_async_sdk_streams_what_rill_gets(server: str, upstream: Emulator) -> None:
    script = Script.of_tool_calls(CALLS[:1])
    upstream.enqueue(script)
    direct = await rill.agenerate("hi", model=MODEL, tools=TOOLS)
    upstream.enqueue(script)
    client = openai.AsyncOpenAI(base_url=server, api_key="k1", max_retries=0)
    async with client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            tools=TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
        args, names, usage = "", [], None
        async with stream:
            async for chunk in stream:
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    for call in choice.delta.tool_calls or []:
                        if call.function and call.function.name:
                            names.append(call.function.name)
                        args += (call.function.arguments if call.function else "") or ""
        upstream.enqueue(Script.of_text(TEXT))
        whole = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    assert names == ["get_weather"]
    assert args == direct.tool_calls[0].arguments
    assert usage is not None and usage.completion_tokens == direct.usage.completion_tokens
    assert whole.choices[0].message.content == TEXT


def test_the_sdk_sees_errors_and_keys_stay_on_the_server(
    server: str, upstream: Emulator, sdk: Callable[..., openai.OpenAI]
) -> None:
    client = sdk(server, "wrong")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    client = sdk(server)
    upstream.enqueue(*[Script.of_status(429)] * 3)  # rill's two retries included
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert UPSTREAM_KEY not in str(caught.value.body)
    upstream.enqueue(Script.of_status(401))
    with pytest.raises(openai.InternalServerError) as upstream_auth:  # 502: not the client's key
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert UPSTREAM_KEY not in str(upstream_auth.value.body)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="nosuchprovider/x", messages=[{"role": "user", "content": "hi"}]
        )
