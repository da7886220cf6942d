"""Cohere v2 chat (``cohere/``): the recorded corpus body over real HTTP with a
hand-checked result, the project's own bodies (text with citations, thinking,
errors), byte-split invariance, the emulator, and request building."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rill
from rill import GenerationResponse, Message, MessageRole, ToolCall
from rill._request import prepare_request
from rill.providers import Call
from rill.providers._cohere import CohereCodec
from rill.providers._cohere_stream import CohereDecoder
from rill.testing import Emulator, Reply, Script, ScriptedToolCall

from ..conftest import WIRE
from ..decoding import decode_split

WHOLE = Call(model="m", messages=(), provider="cohere")
"""The call a whole (non-streamed) body answers, for ``decode_response``."""

CORPUS = WIRE / "other" / "cohere-v2-tool-calls.sse"


@pytest.fixture(autouse=True)
def _no_cohere_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CO_API_KEY", "COHERE_API_KEY", "CO_API_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def sse(*events: dict[str, Any], done: bool = True) -> bytes:
    out = b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )
    return out + (b"data: [DONE]\n\n" if done else b"")


def start(rid: str = "4f3c0a4e-1b9b-4a57-9d2e-6a1f0c5b7e21") -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": [],
        "tool_plan": "",
        "tool_calls": [],
        "citations": [],
    }
    return {"id": rid, "type": "message-start", "delta": {"message": message}}


def block(index: int, kind: str, *pieces: str) -> list[dict[str, Any]]:
    content = {"type": kind, kind: ""}
    return [
        {"type": "content-start", "index": index, "delta": {"message": {"content": content}}},
        *(
            {"type": "content-delta", "index": index, "delta": {"message": {"content": {kind: p}}}}
            for p in pieces
        ),
        {"type": "content-end", "index": index},
    ]


def end(reason: str, tokens: tuple[int, int] = (210, 7), **extra: Any) -> dict[str, Any]:
    usage = {
        "billed_units": {"input_tokens": 12, "output_tokens": tokens[1]},
        "tokens": {"input_tokens": tokens[0], "output_tokens": tokens[1]},
    }
    return {"type": "message-end", "delta": {"finish_reason": reason, "usage": usage, **extra}}


CITATION = {
    "start": 0,
    "end": 9,
    "text": "Coca-Cola",
    "sources": [
        {
            "type": "document",
            "id": "doc:0",
            "document": {"id": "doc:0", "text": "Coca-Cola is a soft drink."},
        }
    ],
    "type": "TEXT_CONTENT",
}
# Shaped like Cohere's documented streams (docs.cohere.com/v2/docs/streaming):
# text in one content block, a citation for a span of it, usage in message-end.
TEXT_WITH_CITATION = sse(
    start(),
    *block(0, "text", "Coca", "-Cola", " is a soft drink.")[:-1],
    {"type": "citation-start", "index": 0, "delta": {"message": {"citations": CITATION}}},
    {"type": "citation-end", "index": 0},
    {"type": "content-end", "index": 0},
    end("COMPLETE"),
)
# A reasoning model (command-a-reasoning): a thinking block before the text.
THINKING = sse(
    start(),
    *block(0, "thinking", "The user", " wants a number."),
    *block(1, "text", "42"),
    end("MAX_TOKENS", (30, 9)),
)
ERROR_END = sse(start(), *block(0, "text", "Partial"), end("ERROR"))
OWN_BODIES = {
    "text-with-citation": TEXT_WITH_CITATION,
    "thinking": THINKING,
    "error-end": ERROR_END,
}


def serve(emu: Emulator, body: bytes, **kw: Any) -> GenerationResponse:
    emu.enqueue(Script.of_body(body))
    return rill.generate("x", model="cohere/command-r", base_url=emu.url, api_key="k", **kw)


# -------------------------------------------------------- the recorded corpus


@pytest.mark.shared
def test_corpus_body_over_http(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(CORPUS.read_bytes()))
    stream = rill.generate_stream("x", model="cohere/command-r", base_url=emu.url, api_key="k")
    chunks = list(stream)
    response = stream.response
    assert response.reasoning == "I will search for the current time and weather in Tokyo."
    assert response.content == ""
    arguments = '{\n    "location": "Tokyo"\n}'
    assert [(t.id, t.name, t.arguments, t.index) for t in response.tool_calls] == [
        ("get_time_dg5wwc00d8v5", "get_time", arguments, 0),
        ("get_weather_bc8241gkqss5", "get_weather", arguments, 1),
    ]
    assert response.tool_calls[0].args == {"location": "Tokyo"}
    assert (response.finish_reason, response.native_finish_reason) == ("tool_calls", "TOOL_CALL")
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (968, 83, 1051)
    assert not usage.estimated
    assert response.id == "e6d757a9-f0f3-40fe-9b8a-44cdc3bd18a7"
    assert response.model == "command-r"  # Cohere does not echo it: the model asked for
    assert response.items == []
    # One chunk per event that carries something: start, 12 plan pieces, 2 x
    # (start + 8 argument pieces), end; the billed units stay in raw.
    assert len(chunks) == 1 + 12 + 2 * 9 + 1
    assert chunks[-1].raw["delta"]["usage"]["billed_units"] == {
        "input_tokens": 62,
        "output_tokens": 28,
    }


# ---------------------------------------------------------- own bodies, HTTP


def test_text_with_a_citation(emu: Emulator) -> None:
    response = serve(emu, TEXT_WITH_CITATION)
    assert response.content == "Coca-Cola is a soft drink."
    assert response.items == [{"type": "cohere_citation", "citation": CITATION}]
    assert (response.finish_reason, response.native_finish_reason) == ("stop", "COMPLETE")
    assert response.id == "4f3c0a4e-1b9b-4a57-9d2e-6a1f0c5b7e21"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (210, 7)


def test_thinking_blocks_are_reasoning(emu: Emulator) -> None:
    response = serve(emu, THINKING)
    assert (response.reasoning, response.content) == ("The user wants a number.", "42")
    assert (response.finish_reason, response.native_finish_reason) == ("length", "MAX_TOKENS")


def test_error_finish_raises_with_the_partial(emu: Emulator) -> None:
    with pytest.raises(rill.ProviderStreamError, match="ERROR") as info:
        serve(emu, ERROR_END)
    partial = info.value.partial
    assert partial is not None
    assert (partial.content, partial.finish_reason) == ("Partial", "error")


def test_json_error_body_under_200(emu: Emulator) -> None:
    body = b'{"id":"b2c1","message":"invalid request: message must be at least 1 token long"}'
    with pytest.raises(rill.ProviderStreamError, match="at least 1 token") as info:
        serve(emu, body)
    assert info.value.partial is not None


def test_http_error_status(emu: Emulator) -> None:
    emu.enqueue(
        Script.of_status(429, error_body={"id": "x", "message": "You are using a Trial key"})
    )
    with pytest.raises(rill.RateLimitError, match="Trial key"):
        rill.generate("x", model="cohere/command-r", base_url=emu.url, api_key="k", max_retries=0)


def test_a_stream_cut_before_message_end_is_incomplete(emu: Emulator) -> None:
    body = sse(start(), *block(0, "text", "Hel", "lo"), done=False)
    with pytest.raises(rill.IncompleteStreamError) as info:
        serve(emu, body)
    assert info.value.partial is not None and info.value.partial.content == "Hello"


def test_complete_without_done_and_unknown_events_kept_raw(emu: Emulator) -> None:
    body = sse(
        start(),
        {"type": "debug-info", "detail": 1},
        *block(0, "text", "Hi"),
        end("COMPLETE"),
        done=False,
    )
    emu.enqueue(Script.of_body(body))
    chunks = list(rill.generate_stream("x", model="cohere/c", base_url=emu.url, api_key="k"))
    assert [c.raw for c in chunks if c.raw.get("type") == "debug-info"] == [
        {"type": "debug-info", "detail": 1}
    ]
    assert chunks[-1].finish_reason == "stop"


def test_type_field_wins_over_the_event_line(emu: Emulator) -> None:
    body = (
        b'data: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"A"}}}}\n\n'
        b'event: message\ndata: {"type":"message-end","delta":{"finish_reason":"COMPLETE"}}\n\n'
        b"data: [DONE]\n\n"
    )
    response = serve(emu, body)
    assert (response.content, response.finish_reason) == ("A", "stop")


def test_bad_json_is_a_protocol_error(emu: Emulator) -> None:
    body = (
        sse(start(), *block(0, "text", "Hi"), done=False) + b"event: content-delta\ndata: {oops\n\n"
    )
    with pytest.raises(rill.ProtocolError) as info:
        serve(emu, body)
    assert info.value.partial is not None and info.value.partial.content == "Hi"


async def test_async_twin(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(THINKING))
    response = await rill.agenerate(
        "x", model="cohere/command-a-reasoning", base_url=emu.url, api_key="k"
    )
    assert response.content == "42"


# ---------------------------------------------------------------- byte splits


def decode(body: bytes, cuts: list[int]) -> tuple[list[Any], Any]:
    return decode_split(CohereDecoder("cohere", "m"), body, cuts)


SPLIT_BODIES = [pytest.param("corpus", marks=pytest.mark.shared), *OWN_BODIES]


@pytest.mark.parametrize("name", SPLIT_BODIES)
@settings(max_examples=15)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(name: str, data: st.DataObject) -> None:
    if name == "corpus":
        body = CORPUS.read_bytes()
    else:
        body = OWN_BODIES[name]
    whole = decode(body, [])
    assert whole[0]
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    assert decode(body, cuts) == whole
    near = data.draw(st.integers(0, max(0, len(body) - 64)))
    assert decode(body, list(range(near, min(len(body), near + 64)))) == whole


# ------------------------------------------------------------- non-streamed


def test_decode_response_of_a_whole_body() -> None:
    body = orjson.dumps(
        {
            "id": "r1",
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Hmm."},
                    {"type": "text", "text": "Hi."},
                ],
                "tool_plan": " Then call.",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
                "citations": [CITATION],
            },
            "finish_reason": "TOOL_CALL",
            "usage": {"billed_units": {"input_tokens": 1, "output_tokens": 2}, "cached_tokens": 4},
        }
    )
    [chunk] = CohereCodec().decode_response(WHOLE, body)
    assert (chunk.content, chunk.reasoning, chunk.id) == ("Hi.", "Hmm. Then call.", "r1")
    assert [(t.id, t.name, t.arguments) for t in chunk.tool_calls] == [("t1", "f", "{}")]
    assert chunk.items == ({"type": "cohere_citation", "citation": CITATION},)
    assert chunk.finish_reason == "tool_calls"
    assert chunk.usage == rill.Usage(1, 2, 3, cached_tokens=4)  # billed units: no token counts
    with pytest.raises(rill.ProviderStreamError, match="invalid api token"):
        CohereCodec().decode_response(WHOLE, b'{"id":"x","message":"invalid api token"}')


# --------------------------------------------------------------- the emulator


def test_emulator_conversation_with_plan_and_parallel_calls(emu: Emulator) -> None:
    weather = ScriptedToolCall("get_weather", {"location": "Tokyo"})
    clock = ScriptedToolCall("get_time", {"location": "Tokyo"})
    emu.enqueue(
        Script(replies=(Reply(reasoning="I will look up both.", tool_calls=(weather, clock)),)),
        Script(replies=(Reply(text="Sunny, and it is noon.", reasoning="Both answers are in."),)),
    )
    tools = [
        {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
        {"name": "get_time", "parameters": {"type": "object"}},
    ]
    messages: list[Any] = [
        Message(MessageRole.SYSTEM, "Be brief."),
        Message(MessageRole.USER, "Weather and time in Tokyo?"),
    ]
    first = rill.generate(
        messages, model="cohere/command-a", base_url=emu.url, api_key="k", tools=tools
    )
    assert first.reasoning == "I will look up both."
    assert [(t.name, t.args) for t in first.tool_calls] == [
        ("get_weather", {"location": "Tokyo"}),
        ("get_time", {"location": "Tokyo"}),
    ]
    ids = [t.id for t in first.tool_calls]
    assert all(ids) and len(set(ids)) == 2
    assert first.finish_reason == "tool_calls" and not first.usage.estimated
    messages += [
        first.to_message(),
        Message(MessageRole.TOOL, "sunny", tool_call_id=ids[0]),
        Message(MessageRole.TOOL, "12:00", tool_call_id=ids[1]),
    ]
    second = rill.generate(
        messages, model="cohere/command-a", base_url=emu.url, api_key="k", tools=tools
    )
    assert (second.content, second.reasoning) == ("Sunny, and it is noon.", "Both answers are in.")
    assert second.finish_reason == "stop"

    sent = emu.requests[-1]
    assert sent.path == "/v2/chat" and sent.headers["authorization"] == "Bearer k"
    assert sent.json["stream"] is True
    assert sent.json["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object"},
            "description": "Weather",
        },
    }
    assert sent.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather and time in Tokyo?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": ids[0],
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location":"Tokyo"}'},
                },
                {
                    "id": ids[1],
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"location":"Tokyo"}'},
                },
            ],
            "tool_plan": "I will look up both.",
        },
        {"role": "tool", "tool_call_id": ids[0], "content": "sunny"},
        {"role": "tool", "tool_call_id": ids[1], "content": "12:00"},
    ]


def test_emulator_text_stream_and_whole_body(emu: Emulator) -> None:
    emu.enqueue(Script(replies=(Reply(text="Hello there, world"),), usage=(5, 4)))
    chunks = list(rill.generate_stream("Hi", model="cohere/c", base_url=emu.url, api_key="k"))
    assert [c.content for c in chunks if c.content] == ["Hello", " there", ",", " world"]
    assert chunks[-1].usage == rill.Usage(5, 4, 9)
    from rill.testing._cohere import CohereEncoder
    from rill.testing._script import RecordedRequest

    request = RecordedRequest("POST", "/v2/chat", {}, {}, b"", {"model": "c", "messages": []})
    assert not CohereEncoder().wants_stream(request)
    script = Script(replies=(Reply(text="Hi.", reasoning="Hm."),))
    [chunk] = CohereCodec().decode_response(
        WHOLE, CohereEncoder().complete(script, request, seq=3, created=0)
    )
    assert (chunk.content, chunk.reasoning, chunk.finish_reason) == ("Hi.", "Hm.", "stop")
    assert orjson.loads(CohereEncoder().error(404, "not found"))["message"] == "not found"


# ---------------------------------------------------------- request building


def body_of(messages: Any = "Hi", **kw: Any) -> dict[str, Any]:
    prepared = prepare_request(messages, {"model": "cohere/command-a", "api_key": "k", **kw})
    body: dict[str, Any] = orjson.loads(prepared.http.body)
    return body


def test_params_are_renamed() -> None:
    body = body_of(
        temperature=0.3,
        max_tokens=100,
        top_p=0.8,
        stop=["\n\n", "END"],
        seed=1,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        logprobs=True,
        n=1,
        parallel_tool_calls=True,
    )
    assert body == {
        "model": "command-a",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "temperature": 0.3,
        "max_tokens": 100,
        "p": 0.8,
        "stop_sequences": ["\n\n", "END"],
        "seed": 1,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "logprobs": True,
    }
    assert body_of(stop="END")["stop_sequences"] == ["END"]


def test_reasoning_effort_and_response_format() -> None:
    assert body_of(reasoning_effort="high")["thinking"] == {"type": "enabled"}
    assert body_of(reasoning_effort="none")["thinking"] == {"type": "disabled"}
    assert body_of(response_format={"type": "json_object"})["response_format"] == {
        "type": "json_object"
    }
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert body_of(response_format=fmt)["response_format"] == {
        "type": "json_object",
        "json_schema": schema,
    }
    assert body_of(response_format={"type": "text"})["response_format"] == {"type": "text"}


def test_tools_and_tool_choice() -> None:
    tools = [
        {"name": "a", "parameters": {"type": "object"}, "strict": True},
        {"name": "b", "parameters": {"type": "object"}},
    ]
    body = body_of(tools=tools)
    assert [t["function"]["name"] for t in body["tools"]] == ["a", "b"]
    assert body["strict_tools"] is True and "tool_choice" not in body
    assert body_of(tools=tools, tool_choice="auto").get("tool_choice") is None
    assert body_of(tools=tools, tool_choice="none")["tool_choice"] == "NONE"
    assert body_of(tools=tools, tool_choice="required")["tool_choice"] == "REQUIRED"
    named = body_of(tools=tools, tool_choice={"type": "function", "function": {"name": "b"}})
    assert named["tool_choice"] == "REQUIRED"
    assert [t["function"]["name"] for t in named["tools"]] == ["b"]
    assert "strict_tools" not in named


def test_messages_round_trip() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    messages = [
        {"role": "developer", "content": "Rules."},
        {"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]},
        {"role": "assistant", "content": "A cat.", "reasoning": "Looks feline."},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                ToolCall(id="t1", name="zoom", arguments='{"x":2}'),
                {
                    "id": "t2",
                    "type": "function",
                    "function": {"name": "crop", "arguments": {"w": 1}},
                },
            ],
            "reasoning": "Zoom and crop.",
        },
        {"role": "tool", "content": "zoomed", "tool_call_id": "t1"},
        {"role": "tool", "content": [{"type": "text", "text": "cropped"}], "tool_call_id": "t2"},
        {
            "role": "assistant",
            "content": "Coca-Cola",
            "items": [
                {"type": "cohere_citation", "citation": CITATION},
                {"type": "ollama_timings"},
            ],
        },
    ]
    sent = body_of(messages)["messages"]
    assert sent == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Looks feline."},
                {"type": "text", "text": "A cat."},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "zoom", "arguments": '{"x":2}'},
                },
                {
                    "id": "t2",
                    "type": "function",
                    "function": {"name": "crop", "arguments": '{"w":1}'},
                },
            ],
            "tool_plan": "Zoom and crop.",
            "content": "Checking.",
        },
        {"role": "tool", "tool_call_id": "t1", "content": "zoomed"},
        {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "cropped"}]},
        {"role": "assistant", "content": "Coca-Cola", "citations": [CITATION]},
    ]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n": 3}, "one reply per request"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"user": "u"}, "'user'"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"response_format": {"type": "yaml"}}, "unsupported response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "schema"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
        ({"messages": [{"role": "assistant", "tool_calls": [3]}]}, "rill.ToolCall or a dict"),
    ],
)
def test_unsupported_requests_fail_at_the_call(kw: dict[str, Any], match: str) -> None:
    messages = kw.pop("messages", "Hi")
    with pytest.raises(rill.InvalidRequestError, match=match):
        body_of(messages, **kw)


def test_endpoint_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(rill.MissingAPIKeyError, match="CO_API_KEY or COHERE_API_KEY"):
        prepare_request("Hi", {"model": "cohere/command-a"})
    monkeypatch.setenv("COHERE_API_KEY", "co-secret")
    prepared = prepare_request("Hi", {"model": "cohere/command-a"})
    assert prepared.http.url == "https://api.cohere.com/v2/chat"
    assert prepared.http.headers["authorization"] == "Bearer co-secret"
    monkeypatch.setenv("CO_API_URL", "https://cohere.internal/")
    monkeypatch.setenv("CO_API_KEY", "first")
    prepared = prepare_request("Hi", {"model": "cohere/command-a"})
    assert prepared.http.url == "https://cohere.internal/v2/chat"
    assert prepared.http.headers["authorization"] == "Bearer first"


def test_stream_false_is_sent_when_not_streaming() -> None:
    from rill.providers import Call

    request = Call(model="m", messages=(Message(MessageRole.USER, "x"),), stream=False)
    assert CohereCodec().build_body(request)["stream"] is False
