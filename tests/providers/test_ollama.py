"""Ollama's native API (``ollama/`` for ``/api/chat``, ``ollama-generate/`` for
``/api/generate``): the recorded corpus over real HTTP with hand-checked
results, the project's own bodies for what the corpus lacks (thinking, tool
calls, errors), byte-split invariance, the emulator, and request building."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rill
from rill import GenerationResponse, Message, MessageRole, ToolCall
from rill.providers import Call, get_provider
from rill.providers._ollama import OllamaChatCodec, OllamaGenerateCodec, ollama_host_url
from rill.providers._ollama_stream import OllamaDecoder
from rill.testing import Emulator, Reply, Script, ScriptedToolCall

from ..conftest import wire_files
from ..decoding import decode_split

WHOLE = Call(model="m", messages=(), provider="ollama")
"""The call a whole (non-streamed) body answers, for ``decode_response``."""

NDJSON = "application/x-ndjson"
BODIES = wire_files("ollama", "*.ndjson")


@pytest.fixture(autouse=True)
def _no_ollama_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def lines(*objs: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objs)


def chat_line(model: str, n: int, **message: Any) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": f"2025-06-01T10:00:00.{n:06d}Z",
        "message": {"role": "assistant", "content": "", **message},
        "done": False,
    }


def final_line(model: str, reason: str = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": "2025-06-01T10:00:01.000000Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": reason,
        "done": True,
        "total_duration": 2_345_000_000,
        "load_duration": 45_000_000,
        "prompt_eval_count": 18,
        "prompt_eval_duration": 120_000_000,
        "eval_count": 42,
        "eval_duration": 2_100_000_000,
        **extra,
    }


# Shaped like what Ollama sends (docs.ollama.com capabilities/thinking and
# tool-calling, ollama.com/blog/streaming-tool): thinking lines carry an empty
# content; older servers send complete tool calls without ids, several in one
# line; recent servers add an id and function.index, one call per line.
THINKING = lines(
    chat_line("qwen3:0.6b", 1, thinking="Okay"),
    chat_line("qwen3:0.6b", 2, thinking=", 17 * 23"),
    chat_line("qwen3:0.6b", 3, thinking=" is 391."),
    chat_line("qwen3:0.6b", 4, content="17 * 23"),
    chat_line("qwen3:0.6b", 5, content=" = 391."),
    final_line("qwen3:0.6b"),
)
TOOL_CALLS = lines(
    chat_line(
        "llama3.1",
        1,
        tool_calls=[
            {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}},
            {"function": {"name": "get_time", "arguments": {"city": "Tokyo", "format": "24h"}}},
        ],
    ),
    final_line("llama3.1"),
)
TOOL_CALLS_WITH_IDS = lines(
    chat_line("gpt-oss:20b", 1, thinking="Need the weather in both cities."),
    chat_line(
        "gpt-oss:20b",
        2,
        tool_calls=[
            {
                "id": "call_k3x9a1",
                "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}},
            }
        ],
    ),
    chat_line(
        "gpt-oss:20b",
        3,
        tool_calls=[
            {
                "id": "call_p2m4b7",
                "function": {"index": 1, "name": "get_weather", "arguments": {"city": "Rome"}},
            }
        ],
    ),
    final_line("gpt-oss:20b"),
)
CUT_BY_LENGTH = lines(chat_line("llama3", 1, content="Once upon"), final_line("llama3", "length"))
LOADED = lines(
    {
        "model": "llama3",
        "created_at": "2025-06-01T10:00:00.000000Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "load",
        "done": True,
    }
)
GENERATE_THINKING = lines(
    {
        "model": "deepseek-r1",
        "created_at": "t1",
        "response": "",
        "thinking": "Rayleigh",
        "done": False,
    },
    {
        "model": "deepseek-r1",
        "created_at": "t2",
        "response": "",
        "thinking": " scattering.",
        "done": False,
    },
    {"model": "deepseek-r1", "created_at": "t3", "response": "Blue light", "done": False},
    {"model": "deepseek-r1", "created_at": "t4", "response": " scatters most.", "done": False},
    {
        "model": "deepseek-r1",
        "created_at": "t5",
        "response": "",
        "done": True,
        "done_reason": "stop",
        "context": [1, 2, 3],
        "total_duration": 1_000_000_000,
        "prompt_eval_count": 9,
        "eval_count": 12,
    },
)
MIDSTREAM_ERROR = lines(
    chat_line("llama3", 1, content="Hello"),
    chat_line("llama3", 2, content=" there"),
    {"error": "an error was encountered while running the model: unexpected EOF"},
)
OWN_BODIES = {
    "thinking": (THINKING, False),
    "tool-calls": (TOOL_CALLS, False),
    "tool-calls-with-ids": (TOOL_CALLS_WITH_IDS, False),
    "length": (CUT_BY_LENGTH, False),
    "load": (LOADED, False),
    "generate-thinking": (GENERATE_THINKING, True),
    "midstream-error": (MIDSTREAM_ERROR, False),
}


def serve(emu: Emulator, body: bytes, model: str = "ollama/m", **kw: Any) -> GenerationResponse:
    emu.enqueue(Script.of_body(body, content_type=NDJSON))
    return rill.generate("x", model=model, base_url=emu.url, **kw)


# -------------------------------------------------------- the recorded corpus

CORPUS_EXPECTED: dict[str, dict[str, Any]] = {
    "ollm-llama3-chat-stream.ndjson": {
        "provider": "ollama",
        "content": (
            "Why did the OpenTelemetry agent go to therapy?\n\nBecause it was feeling traced "
            "out and needed some instrumentation in its life!\n\n(Sorry, I know it's a bit of "
            "a stretch, but I hope it brought a smile to your face!)"
        ),
        "usage": (17, 50, 67),
        "timings": {
            "type": "ollama_timings",
            "total_duration": 1.897385625,
            "load_duration": 0.001631208,
            "prompt_eval_duration": 0.31356,
            "eval_duration": 1.57799,
        },
        "chunks": 50,
    },
    "ollm-llama3-generate-stream.ndjson": {
        "provider": "ollama-generate",
        "content": (
            "A joke about OpenTelemetry! Here's one:\n\nWhy did the OpenTelemetry Span go to "
            'therapy?\n\nBecause it was feeling "distributed" and wanted to get to the "root '
            'cause" of its problems!\n\n(Sorry, I know it\'s a bit of a "stretch"... '
            "OpenTelemetry jokes are still in the early stages of development!)"
        ),
        "usage": (17, 71, 88),
        "timings": {
            "type": "ollama_timings",
            "total_duration": 4.218611084,
            "load_duration": 1.797788834,
            "prompt_eval_duration": 0.167135,
            "eval_duration": 2.252182,
        },
        "chunks": 71,
    },
}


@pytest.mark.shared
def test_every_corpus_body_has_an_expected_result() -> None:
    assert {p.name for p in BODIES} == set(CORPUS_EXPECTED)


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=[p.name for p in BODIES])
def test_corpus_over_http(emu: Emulator, path: Path) -> None:
    expected = CORPUS_EXPECTED[path.name]
    emu.enqueue(Script.of_body(path.read_bytes(), content_type=NDJSON))
    stream = rill.generate_stream("x", model=f"{expected['provider']}/llama3", base_url=emu.url)
    chunks = list(stream)
    response = stream.response
    assert len(chunks) == expected["chunks"]
    assert response.content == expected["content"]
    assert response.reasoning == "" and response.tool_calls == []
    assert response.model == "llama3"
    assert (response.finish_reason, response.native_finish_reason) == ("stop", "stop")
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == expected["usage"]
    assert not usage.estimated
    assert response.items == [expected["timings"]]
    last = chunks[-1].raw
    assert last["done"] is True and last["total_duration"] == round(
        expected["timings"]["total_duration"] * 1e9
    )
    if expected["provider"] == "ollama-generate":
        assert len(last["context"]) == 88 and last["context"][:2] == [128006, 882]


# ---------------------------------------------------------- own bodies, HTTP


def test_thinking_streams_as_reasoning(emu: Emulator) -> None:
    response = serve(emu, THINKING)
    assert response.reasoning == "Okay, 17 * 23 is 391."
    assert response.content == "17 * 23 = 391."
    assert response.model == "qwen3:0.6b"
    assert response.finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (18, 42)
    assert response.items[0]["load_duration"] == 0.045


def test_tool_calls_without_ids_get_numbered_ids(emu: Emulator) -> None:
    response = serve(emu, TOOL_CALLS)
    assert [(t.id, t.name, t.arguments, t.index) for t in response.tool_calls] == [
        ("call_0", "get_weather", '{"city":"Tokyo"}', 0),
        ("call_1", "get_time", '{"city":"Tokyo","format":"24h"}', 1),
    ]
    assert response.tool_calls[1].args == {"city": "Tokyo", "format": "24h"}
    assert (response.finish_reason, response.native_finish_reason) == ("tool_calls", "stop")
    assert response.content == ""


def test_tool_calls_with_ids_across_lines(emu: Emulator) -> None:
    response = serve(emu, TOOL_CALLS_WITH_IDS)
    assert response.reasoning == "Need the weather in both cities."
    assert [(t.id, t.name, t.args) for t in response.tool_calls] == [
        ("call_k3x9a1", "get_weather", {"city": "Paris"}),
        ("call_p2m4b7", "get_weather", {"city": "Rome"}),
    ]
    assert response.finish_reason == "tool_calls"


def test_length_and_load_reasons(emu: Emulator) -> None:
    cut = serve(emu, CUT_BY_LENGTH)
    assert (cut.content, cut.finish_reason, cut.native_finish_reason) == (
        "Once upon",
        "length",
        "length",
    )
    loaded = serve(emu, LOADED)
    assert (loaded.finish_reason, loaded.content) == ("load", "")
    assert loaded.usage.estimated  # Ollama reported no counts
    assert loaded.items == []


def test_generate_thinking_and_context(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(GENERATE_THINKING, content_type=NDJSON))
    stream = rill.generate_stream(
        "Why is the sky blue?", model="ollama-generate/deepseek-r1", base_url=emu.url
    )
    chunks = list(stream)
    response = stream.response
    assert response.reasoning == "Rayleigh scattering."
    assert response.content == "Blue light scatters most."
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (9, 12)
    assert response.items == [{"type": "ollama_timings", "total_duration": 1.0}]
    assert chunks[-1].raw["context"] == [1, 2, 3]


def test_midstream_error_keeps_the_partial(emu: Emulator) -> None:
    with pytest.raises(rill.ProviderStreamError, match="unexpected EOF") as info:
        serve(emu, MIDSTREAM_ERROR)
    assert info.value.partial is not None
    assert info.value.partial.content == "Hello there"
    assert info.value.error == "an error was encountered while running the model: unexpected EOF"


def test_error_body_under_200(emu: Emulator) -> None:
    with pytest.raises(rill.ProviderStreamError, match="not found") as info:
        serve(emu, b'{"error":"model \\"nope\\" not found, try pulling it first"}')
    assert info.value.partial is not None and info.value.partial.content == ""


def test_http_error_status(emu: Emulator) -> None:
    emu.enqueue(
        Script.of_status(404, error_body={"error": 'model "nope" not found, try pulling it first'})
    )
    with pytest.raises(rill.NotFoundError, match="try pulling it first"):
        rill.generate("x", model="ollama/nope", base_url=emu.url, max_retries=0)


def test_a_stream_cut_mid_line_is_incomplete(emu: Emulator) -> None:
    body = lines(chat_line("llama3", 1, content="Hello")) + b'{"model":"llama3","mess'
    with pytest.raises(rill.IncompleteStreamError) as info:
        serve(emu, body)
    assert info.value.partial is not None and info.value.partial.content == "Hello"


def test_a_stream_without_done_is_incomplete(emu: Emulator) -> None:
    with pytest.raises(rill.IncompleteStreamError):
        serve(emu, lines(chat_line("llama3", 1, content="Hello")))


def test_a_garbage_line_is_a_protocol_error(emu: Emulator) -> None:
    body = lines(chat_line("llama3", 1, content="Hello")) + b"<html>oops</html>\n"
    with pytest.raises(rill.ProtocolError) as info:
        serve(emu, body)
    assert info.value.partial is not None and info.value.partial.content == "Hello"
    with pytest.raises(rill.ProtocolError):
        serve(emu, b"<html>Bad gateway</html>")


async def test_async_twin(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(THINKING, content_type=NDJSON))
    chunks = [c async for c in rill.agenerate_stream("x", model="ollama/qwen3", base_url=emu.url)]
    assert "".join(c.content for c in chunks) == "17 * 23 = 391."
    emu.enqueue(Script.of_body(TOOL_CALLS, content_type=NDJSON))
    response = await rill.agenerate("x", model="ollama/llama3.1", base_url=emu.url)
    assert [t.name for t in response.tool_calls] == ["get_weather", "get_time"]


# ---------------------------------------------------------------- byte splits


def decode(body: bytes, cuts: list[int], generate: bool) -> tuple[list[Any], Any]:
    return decode_split(OllamaDecoder("ollama", generate=generate), body, cuts)


SPLIT_BODIES = [
    pytest.param(p.name, p, "generate" in p.name, marks=pytest.mark.shared, id=p.name)
    for p in BODIES
] + [pytest.param(name, body, generate, id=name) for name, (body, generate) in OWN_BODIES.items()]


@pytest.mark.parametrize(("name", "source", "generate"), SPLIT_BODIES)
@settings(max_examples=15)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(
    name: str, source: Path | bytes, generate: bool, data: st.DataObject
) -> None:
    if isinstance(source, Path):
        source = source.read_bytes()
    body = source
    whole = decode(body, [], generate)
    assert whole[0]  # something was decoded
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    assert decode(body, cuts, generate) == whole
    near = data.draw(st.integers(0, max(0, len(body) - 64)))
    assert decode(body, list(range(near, min(len(body), near + 64))), generate) == whole


def test_crlf_lines_decode_the_same() -> None:
    assert decode(THINKING.replace(b"\n", b"\r\n"), [], False)[1] == decode(THINKING, [], False)[1]


# ------------------------------------------------------------- non-streamed


def test_decode_response_of_a_whole_body() -> None:
    body = orjson.dumps(
        {
            "model": "llama3.2",
            "created_at": "2024-07-22T20:33:28.123648Z",
            "message": {
                "role": "assistant",
                "content": "",
                "thinking": "Paris it is.",
                "tool_calls": [
                    {
                        "function": {
                            "name": "get_current_weather",
                            "arguments": {"format": "celsius", "location": "Paris, FR"},
                        }
                    }
                ],
            },
            "done_reason": "stop",
            "done": True,
            "total_duration": 885095291,
            "prompt_eval_count": 122,
            "eval_count": 33,
        }
    )
    [chunk] = OllamaChatCodec().decode_response(WHOLE, body)
    assert chunk.reasoning == "Paris it is."
    assert chunk.tool_calls[0].name == "get_current_weather"
    assert orjson.loads(chunk.tool_calls[0].arguments) == {
        "format": "celsius",
        "location": "Paris, FR",
    }
    assert (chunk.finish_reason, chunk.usage.total_tokens if chunk.usage else None) == (
        "tool_calls",
        155,
    )
    [generated] = OllamaGenerateCodec().decode_response(
        WHOLE, b'{"model":"m","created_at":"t","response":"Hi.","done":true,"done_reason":"stop"}'
    )
    assert (generated.content, generated.finish_reason) == ("Hi.", "stop")
    with pytest.raises(rill.ProviderStreamError, match="no such model"):
        OllamaChatCodec().decode_response(WHOLE, b'{"error":"no such model"}')
    with pytest.raises(rill.ProtocolError):
        OllamaChatCodec().decode_response(
            WHOLE, b'{"model":"m","message":{"content":"x"},"done":false}'
        )


# --------------------------------------------------------------- the emulator


def test_emulator_conversation_with_thinking_and_parallel_calls(emu: Emulator) -> None:
    weather = ScriptedToolCall("get_weather", {"city": "Paris"})
    clock = ScriptedToolCall("get_time", {"city": "Paris"})
    emu.enqueue(
        Script(replies=(Reply(reasoning="Two lookups are needed.", tool_calls=(weather, clock)),)),
        Script(replies=(Reply(text="It is sunny in Paris at noon.", reasoning="Both known."),)),
    )
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"name": "get_time", "description": "Local time", "parameters": {"type": "object"}},
    ]
    messages: list[Any] = [
        Message(MessageRole.SYSTEM, "Be brief."),
        Message(MessageRole.USER, "Weather and time in Paris?"),
    ]
    first = rill.generate(messages, model="ollama/qwen3", base_url=emu.url, tools=tools)
    assert first.reasoning == "Two lookups are needed."
    assert [(t.id, t.name, t.args) for t in first.tool_calls] == [
        ("call_0", "get_weather", {"city": "Paris"}),
        ("call_1", "get_time", {"city": "Paris"}),
    ]
    assert first.finish_reason == "tool_calls"
    assert first.items[0]["type"] == "ollama_timings"
    messages += [
        first.to_message(),
        Message(MessageRole.TOOL, "sunny", tool_call_id="call_0"),
        Message(MessageRole.TOOL, "12:00", tool_call_id="call_1"),
    ]
    second = rill.generate(messages, model="ollama/qwen3", base_url=emu.url, tools=tools)
    assert (second.content, second.reasoning) == ("It is sunny in Paris at noon.", "Both known.")
    assert second.finish_reason == "stop" and not second.usage.estimated

    sent = emu.requests[-1].json
    assert sent["stream"] is True
    assert sent["tools"][1] == {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {"type": "object"},
            "description": "Local time",
        },
    }
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "thinking": "Two lookups are needed.",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}},
                    "id": "call_0",
                },
                {
                    "type": "function",
                    "function": {"index": 1, "name": "get_time", "arguments": {"city": "Paris"}},
                    "id": "call_1",
                },
            ],
        },
        {"role": "tool", "content": "sunny", "tool_name": "get_weather", "tool_call_id": "call_0"},
        {"role": "tool", "content": "12:00", "tool_name": "get_time", "tool_call_id": "call_1"},
    ]


def test_emulator_streamed_chunks_and_final_line(emu: Emulator) -> None:
    emu.enqueue(Script(replies=(Reply(text="Hello there, world"),), usage=(7, 4)))
    chunks = list(rill.generate_stream("Hi", model="ollama/llama3", base_url=emu.url))
    assert [c.content for c in chunks] == ["Hello", " there", ",", " world", ""]
    last = chunks[-1]
    assert (last.finish_reason, last.usage) == ("stop", rill.Usage(7, 4, 11))
    assert last.raw["done"] is True and last.raw["eval_count"] == 4
    assert chunks[0].model == "llama3"


def test_emulator_generate_and_non_streamed_bodies(emu: Emulator) -> None:
    emu.enqueue(Script(replies=(Reply(text="Blue.", reasoning="Sky."),)))
    response = rill.generate("Why?", model="ollama-generate/r1", base_url=emu.url, system="Short.")
    assert (response.content, response.reasoning) == ("Blue.", "Sky.")
    assert emu.requests[-1].json == {
        "model": "r1",
        "prompt": "Why?",
        "stream": True,
        "system": "Short.",
    }
    # The encoders' whole-body answers decode with the codecs' decode_response.
    from rill.testing._ollama import OllamaChatEncoder, OllamaGenerateEncoder
    from rill.testing._script import RecordedRequest

    request = RecordedRequest("POST", "/api/chat", {}, {}, b"", {"model": "m", "stream": False})
    script = Script(
        replies=(Reply(text="Hi.", tool_calls=(ScriptedToolCall("f", {"a": 1}, id="c1"),)),)
    )
    assert not OllamaChatEncoder().wants_stream(request)
    [chunk] = OllamaChatCodec().decode_response(
        WHOLE, OllamaChatEncoder().complete(script, request, seq=1, created=0)
    )
    assert (chunk.content, chunk.tool_calls[0].id, chunk.finish_reason) == (
        "Hi.",
        "c1",
        "tool_calls",
    )
    [chunk] = OllamaGenerateCodec().decode_response(
        WHOLE, OllamaGenerateEncoder().complete(script, request, seq=1, created=0)
    )
    assert (chunk.content, chunk.tool_calls, chunk.raw["context"][:2]) == ("Hi.", (), [1, 2])


# ---------------------------------------------------------- request building


def call(messages: list[Any] | None = None, model: str = "ollama/m", **kw: Any) -> dict[str, Any]:
    from rill._request import prepare_request

    prepared = prepare_request(messages or "Hi", {"model": model, **kw})
    body: dict[str, Any] = orjson.loads(prepared.http.body)
    return body


def test_params_go_in_options() -> None:
    body = call(
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop="END",
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        n=1,
        parallel_tool_calls=True,
    )
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "options": {
            "temperature": 0.2,
            "top_p": 0.9,
            "num_predict": 64,
            "stop": ["END"],
            "seed": 7,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.25,
        },
    }


def test_extra_body_options_are_merged() -> None:
    body = call(temperature=0.1, extra_body={"options": {"num_ctx": 8192}, "keep_alive": "10m"})
    assert body["options"] == {"temperature": 0.1, "num_ctx": 8192}
    assert body["keep_alive"] == "10m"
    with pytest.raises(rill.InvalidRequestError, match="options"):
        call(extra_body={"options": 3})


@pytest.mark.parametrize(
    ("effort", "think"),
    [("none", False), ("minimal", "low"), ("low", "low"), ("medium", "medium"), ("high", "high")],
)
def test_reasoning_effort_becomes_think(effort: str, think: Any) -> None:
    assert call(reasoning_effort=effort)["think"] == think


def test_response_format_becomes_format() -> None:
    assert call(response_format={"type": "json_object"})["format"] == "json"
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}
    assert call(response_format=fmt)["format"] == schema
    assert "format" not in call(response_format={"type": "text"})


def test_logprobs_pass_through() -> None:
    body = call(logprobs=True, top_logprobs=3)
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n": 2}, "one reply per request"),
        ({"user": "u1"}, "does not support the parameter 'user'"),
        ({"parallel_tool_calls": False}, "parallel"),
        ({"reasoning_effort": "extreme"}, "not one of"),
        ({"response_format": {"type": "grammar"}}, "unsupported response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "schema"),
        ({"tools": [{"name": "f"}], "tool_choice": "required"}, "only 'auto'"),
        ({"tools": [{"name": "f"}], "tool_choice": "f"}, "only 'auto'"),
        ({"tools": [{"name": "f"}], "tool_choice": "none"}, "only 'auto'"),
    ],
)
def test_unsupported_requests_fail_at_the_call(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(rill.InvalidRequestError, match=match):
        call(**kw)


def test_tool_choice_auto_is_fine() -> None:
    body = call(tools=[{"name": "f"}], tool_choice="auto")
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    assert "tool_choice" not in body


def test_developer_role_images_and_dict_tool_calls() -> None:
    png = "iVBORw0KGgo="
    messages = [
        {"role": "developer", "content": "Rules."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": png},
                },
                {"type": "text", "text": "Be short."},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "look", "arguments": ""}},
                ToolCall(id="b", name="zoom", arguments='{"x": 2}'),
            ],
        },
        {"role": "tool", "content": [{"type": "text", "text": "a cat"}], "tool_call_id": "a"},
        {"role": "tool", "content": "2x", "name": "zoom"},
    ]
    sent = call(messages)["messages"]
    assert sent[0] == {"role": "system", "content": "Rules."}
    assert sent[1] == {"role": "user", "content": "What is this?\nBe short.", "images": [png, png]}
    assert [c["function"]["arguments"] for c in sent[2]["tool_calls"]] == [{}, {"x": 2}]
    assert sent[2]["content"] == ""
    assert sent[3] == {"role": "tool", "content": "a cat", "tool_name": "look", "tool_call_id": "a"}
    assert sent[4] == {"role": "tool", "content": "2x", "tool_name": "zoom"}


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
            },
            "base64",
        ),
        ({"role": "user", "content": [{"type": "audio", "data": "..."}]}, "content part"),
        (
            {
                "role": "system",
                "content": [{"type": "image", "source": {"type": "base64", "data": "A"}}],
            },
            "only in user",
        ),
        (
            {
                "role": "assistant",
                "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "[1]"}}],
            },
            "JSON object",
        ),
        ({"role": "assistant", "tool_calls": ["nope"]}, "rill.ToolCall or a dict"),
    ],
)
def test_messages_ollama_cannot_take(message: dict[str, Any], match: str) -> None:
    with pytest.raises(rill.InvalidRequestError, match=match):
        call([message, {"role": "user", "content": "go"}])


def test_generate_renders_one_user_turn() -> None:
    body = call(
        [
            {"role": "system", "content": "One."},
            {"role": "developer", "content": "Two."},
            {"role": "user", "content": "Tell a joke"},
        ],
        model="ollama-generate/llama3",
        temperature=0.3,
        reasoning_effort="high",
    )
    assert body == {
        "model": "llama3",
        "prompt": "Tell a joke",
        "stream": True,
        "system": "One.\n\nTwo.",
        "think": "high",
        "options": {"temperature": 0.3},
    }


@pytest.mark.parametrize(
    ("messages", "kw"),
    [
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
            {},
        ),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}),
        ([{"role": "system", "content": "s"}], {}),
        ([{"role": "user", "content": "a"}], {"tools": [{"name": "f"}]}),
    ],
)
def test_generate_refuses_conversations(messages: list[Any], kw: dict[str, Any]) -> None:
    with pytest.raises(rill.InvalidRequestError, match="ollama/<model>"):
        call(messages, model="ollama-generate/llama3", **kw)


# -------------------------------------------------------------- the endpoint


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        (":9999", "http://127.0.0.1:9999"),
        ("[::1]:11434", "http://[::1]:11434"),
        ("http://gpu-box", "http://gpu-box"),
        ("https://ollama.example.com/", "https://ollama.example.com"),
        ("https://proxy:8443/ollama/", "https://proxy:8443/ollama"),
    ],
)
def test_ollama_host_as_the_cli_reads_it(host: str, url: str) -> None:
    assert ollama_host_url(host) == url


def test_endpoint_url_and_optional_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from rill._request import prepare_request

    prepared = prepare_request("Hi", {"model": "ollama/llama3"})
    assert prepared.http.url == "http://127.0.0.1:11434/api/chat"
    assert "authorization" not in prepared.http.headers
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box")
    monkeypatch.setenv("OLLAMA_API_KEY", "secret-key")
    prepared = prepare_request("Hi", {"model": "ollama-generate/llama3"})
    assert prepared.http.url == "http://gpu-box:11434/api/generate"
    assert prepared.http.headers["authorization"] == "Bearer secret-key"
    assert "secret-key" not in repr(prepared.http)
    openai_style = prepare_request("Hi", {"model": "ollama-openai/llama3"})
    assert openai_style.http.url == "http://gpu-box:11434/v1/chat/completions"
    assert get_provider("ollama").codec.name == "ollama-chat"


def test_stream_false_is_sent_when_not_streaming() -> None:
    codec = OllamaChatCodec()
    request = Call(model="m", messages=(Message(MessageRole.USER, "x"),), stream=False)
    assert codec.build_body(request)["stream"] is False
