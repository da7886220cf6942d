"""The Anthropic provider end to end over loopback HTTP against the emulator:
a scripted conversation with reasoning and parallel tool calls, the
non-streamed path, the emulator's output checked against the ``anthropic``
SDK, and the typed errors (HTTP status, error event, error body, garbage, a
cut connection), each with what arrived before it."""

from __future__ import annotations

from typing import Any

import anthropic
import orjson
import pytest

import rill
from rill import Message, MessageRole
from rill.providers import Call, Provider, get_provider, register_provider
from rill.testing import Emulator, Fault, Reply, Script, ScriptedToolCall
from rill.testing._anthropic import AnthropicEncoder
from rill.testing._script import RecordedRequest

from ..conftest import wire_files

WHOLE = Call(model="m", messages=(), provider="anthropic")
"""The call a whole (non-streamed) body answers, for ``decode_response``."""

MODEL = "anthropic/claude-sonnet-4-5"
TURN = Script(
    replies=(
        Reply(
            text="Checking both cities.",
            reasoning="The user wants two cities, so two calls.",
            tool_calls=(
                ScriptedToolCall("get_weather", {"city": "Paris"}, id="toolu_a"),
                ScriptedToolCall("get_weather", {"city": "Rome"}, id="toolu_b"),
            ),
        ),
    ),
    usage=(120, 40, 12, 100),
)


@pytest.fixture
def emu(rill_emulator: Emulator) -> Emulator:
    return rill_emulator


def generate(emu: Emulator, prompt: Any = "Weather in Paris and Rome?", **kw: Any) -> Any:
    return rill.generate(prompt, model=MODEL, base_url=emu.url, api_key="test", **kw)


def test_a_scripted_turn_with_reasoning_and_parallel_tool_calls(emu: Emulator) -> None:
    emu.enqueue(TURN)
    response = generate(emu, reasoning_effort="low")
    assert response.content == "Checking both cities."
    assert response.reasoning == "The user wants two cities, so two calls."
    assert response.reasoning_signature
    assert [(t.index, t.id, t.name, t.args) for t in response.tool_calls] == [
        (0, "toolu_a", "get_weather", {"city": "Paris"}),
        (1, "toolu_b", "get_weather", {"city": "Rome"}),
    ]
    assert (response.finish_reason, response.native_finish_reason) == ("tool_calls", "tool_use")
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (120, 40, 160)
    assert (usage.reasoning_tokens, usage.cached_tokens, usage.estimated) == (12, 100, False)
    assert response.provider == "anthropic"
    assert response.model == "claude-sonnet-4-5" and response.id.startswith("msg_")
    sent = emu.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json["thinking"] == {"type": "enabled", "budget_tokens": 2048}

    emu.enqueue(Script.of_text("Paris 18C, Rome 22C."))
    follow_up = generate(
        emu,
        [
            Message(MessageRole.SYSTEM, "Be brief."),
            Message(MessageRole.USER, "Weather in Paris and Rome?"),
            response.to_message(),
            Message(MessageRole.TOOL, "18C", tool_call_id="toolu_a"),
            Message(MessageRole.TOOL, "22C", tool_call_id="toolu_b"),
        ],
    )
    assert follow_up.content == "Paris 18C, Rome 22C."
    sent = emu.requests[-1].json
    assert sent["system"] == "Be brief."
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assistant, results = sent["messages"][1]["content"], sent["messages"][2]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": response.reasoning,
        "signature": response.reasoning_signature,
    }
    assert [b["type"] for b in assistant] == ["thinking", "text", "tool_use", "tool_use"]
    assert assistant[3]["input"] == {"city": "Rome"}
    assert results == [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "22C"},
    ]


async def test_the_async_twins(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("Hello from the async side."))
    chunks = [
        c async for c in rill.agenerate_stream("Hi", model=MODEL, base_url=emu.url, api_key="k")
    ]
    assert "".join(c.content for c in chunks) == "Hello from the async side."
    emu.enqueue(TURN)
    response = await rill.agenerate("Hi", model=MODEL, base_url=emu.url, api_key="k")
    assert len(response.tool_calls) == 2


def test_the_emulator_speaks_what_the_sdk_reads(emu: Emulator) -> None:
    emu.enqueue(TURN, TURN)
    with anthropic.Anthropic(base_url=emu.url, api_key="test", max_retries=0) as client:
        with client.messages.stream(
            model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            streamed = stream.get_final_message()
        whole = client.messages.create(
            model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "x"}]
        )
    messages: tuple[Any, ...] = (streamed, whole)  # the SDK's block unions, read by position
    for message in messages:
        assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
        assert message.content[0].thinking == "The user wants two cities, so two calls."
        assert message.content[3].input == {"city": "Rome"}
        assert message.stop_reason == "tool_use"
        assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 40)
        assert message.usage.cache_read_input_tokens == 100
    assert messages[0].content[0].signature == messages[1].content[0].signature


@pytest.fixture(scope="module")
def unstreamed() -> str:
    """The Anthropic endpoint with streaming off: rill asks for the whole message."""
    anthropic_provider = get_provider("anthropic")
    name = "anthropic-unstreamed-test"
    register_provider(
        Provider(
            name,
            anthropic_provider.codec,
            "http://unused",
            auth_header="x-api-key",
            auth_scheme="",
            key_required=False,
            streaming=False,
        ),
        replace=True,
    )
    return name


def test_the_non_streamed_path_gives_the_same_response(emu: Emulator, unstreamed: str) -> None:
    emu.enqueue(TURN)
    streamed = generate(emu)
    emu.enqueue(TURN)
    chunks = list(
        rill.generate_stream("Hi", model=f"{unstreamed}/claude-sonnet-4-5", base_url=emu.url)
    )
    assert "stream" not in emu.requests[-1].json
    assert len(chunks) == 1
    emu.enqueue(TURN)
    whole = rill.generate("Hi", model=f"{unstreamed}/claude-sonnet-4-5", base_url=emu.url)
    for response in (whole,):
        assert response.content == streamed.content
        assert response.reasoning == streamed.reasoning
        assert response.reasoning_signature == streamed.reasoning_signature
        assert [(t.id, t.name, t.args) for t in response.tool_calls] == [
            (t.id, t.name, t.args) for t in streamed.tool_calls
        ]
        assert response.finish_reason == streamed.finish_reason
        assert response.usage == streamed.usage
        assert response.items == streamed.items


def test_decode_response_of_recorded_shapes() -> None:
    codec = get_provider("anthropic").codec
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-1",
        "content": [
            {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {"q": "x"}},
            {"type": "web_search_tool_result", "tool_use_id": "s", "content": []},
            {"type": "text", "text": "Plain. "},
            {"type": "text", "text": "Cited.", "citations": [{"type": "char_location"}]},
            {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "pause_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 5,
            "cache_read_input_tokens": 7,
            "cache_creation_input_tokens": 3,
            "output_tokens": 2,
        },
    }
    [chunk] = codec.decode_response(WHOLE, orjson.dumps(message))
    assert chunk.content == "Plain. Cited."
    assert chunk.items == tuple(message["content"][i] for i in (0, 1, 3))
    assert [(d.index, d.id, d.name, d.arguments) for d in chunk.tool_calls] == [
        (0, "t", "f", '{"a":1}')
    ]
    assert (chunk.finish_reason, chunk.native_finish_reason) == ("stop", "pause_turn")
    assert chunk.usage == rill.Usage(15, 2, 17, 0, 7)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(rill.ProviderStreamError) as info:
        codec.decode_response(WHOLE, orjson.dumps(error))
    assert info.value.type == "overloaded_error"
    with pytest.raises(rill.ProtocolError):
        codec.decode_response(WHOLE, b"[1, 2]")


# --------------------------------------------------------------------- errors

HEAD = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_x","type":'
    b'"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Half an ans"}}\n\n'
)
OVERLOADED = (
    b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
    b'"message":"Overloaded"}}\n\n'
)


@pytest.mark.shared
def test_http_429_is_a_rate_limit_error(emu: Emulator) -> None:
    [path] = wire_files("anthropic", "an-error-429-rate-limit.json")
    emu.enqueue(Script.of_status(429, error_body=path.read_bytes(), headers={"retry-after": "7"}))
    with pytest.raises(rill.RateLimitError) as info:
        generate(emu, max_retries=0)
    error = info.value
    assert error.status_code == 429 and error.retry_after == 7
    assert error.body["error"]["type"] == "rate_limit_error"
    assert "test" not in str(error)


def test_an_error_event_mid_stream_keeps_the_partial(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(HEAD + OVERLOADED))
    with pytest.raises(rill.ProviderStreamError) as info:
        generate(emu)
    error = info.value
    assert (error.type, error.error["message"]) == ("overloaded_error", "Overloaded")
    assert "Overloaded" in str(error)
    assert error.partial is not None and error.partial.content == "Half an ans"
    assert error.partial.id == "msg_x"
    emu.enqueue(Script.of_body(HEAD + OVERLOADED))
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        anthropic.Anthropic(base_url=emu.url, api_key="test", max_retries=0) as client,
        client.messages.stream(model="m", max_tokens=9, messages=[]) as stream,
    ):
        stream.get_final_message()


def test_an_emulator_error_fault(emu: Emulator) -> None:
    fault = Fault.error_event_after(4, {"type": "api_error", "message": "Internal"})
    emu.enqueue(Script.of_text("one two three four five six", faults=(fault,)))
    chunks: list[rill.StreamChunk] = []
    with pytest.raises(rill.ProviderStreamError, match="Internal") as info:
        chunks.extend(rill.generate_stream("Hi", model=MODEL, base_url=emu.url, api_key="k"))
    assert info.value.partial is not None
    assert info.value.partial.content == "".join(c.content for c in chunks) == "one"


@pytest.mark.parametrize(
    "body",
    [
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        b'{"error":{"type":"overloaded_error","message":"Overloaded"}}',
    ],
)
def test_a_json_error_body_under_a_200(emu: Emulator, body: bytes) -> None:
    emu.enqueue(Script.of_body(body))
    with pytest.raises(rill.ProviderStreamError, match="Overloaded") as info:
        generate(emu)
    assert info.value.type == "overloaded_error"


def test_a_whole_message_under_an_event_stream_content_type(emu: Emulator) -> None:
    request = RecordedRequest("POST", "/v1/messages", {}, {}, b"", {"model": "claude-x"})
    whole = AnthropicEncoder().complete(TURN, request, seq=1, created=0)
    emu.enqueue(Script.of_body(whole))
    response = generate(emu)
    assert response.content == "Checking both cities." and len(response.tool_calls) == 2


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (Script.of_body(HEAD + b"event: content_block_delta\ndata: {nope\n\n"), rill.ProtocolError),
        (Script.of_body(b"<html>Bad gateway</html>"), rill.ProtocolError),
        (Script.of_body(HEAD), rill.IncompleteStreamError),
        (
            Script.of_body(HEAD + b'event: message_stop\ndata: {"type":"mess'),
            rill.IncompleteStreamError,
        ),
        (
            Script.of_text("one two three", faults=(Fault.close_after(600),)),
            rill.IncompleteStreamError,
        ),
    ],
)
def test_bad_bytes_and_cut_streams_are_typed_errors(
    emu: Emulator, script: Script, error: type[Exception]
) -> None:
    emu.enqueue(script)
    with pytest.raises(error) as info:
        generate(emu)
    assert isinstance(info.value, rill.StreamError)
    assert info.value.partial is not None


def test_a_stream_decoder_is_sans_io() -> None:
    call = Call(model="m", messages=(Message(MessageRole.USER, "x"),), provider="p")
    decoder = get_provider("anthropic").codec.stream_decoder(call)
    chunks = decoder.feed(HEAD)
    assert [c.content for c in chunks] == ["", "Half an ans"]
    assert chunks[0].usage == rill.Usage(9, 1, 10)
    assert not decoder.complete and decoder.error is None
    decoder.feed(OVERLOADED)
    assert isinstance(decoder.error, rill.ProviderStreamError)
    assert str(decoder.error).startswith("p reported an error")


def test_scripted_refusal_and_counted_usage(emu: Emulator) -> None:
    emu.enqueue(Script(replies=(Reply(refusal="I can't help with that."),)))
    response = generate(emu, "Please do the bad thing", system="Be safe.")
    assert response.content == "I can't help with that."
    assert (response.finish_reason, response.native_finish_reason) == ("refusal", "refusal")
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (7, 8, False)
    emu.enqueue(Script(replies=(Reply(text="cut", finish_reason="length"),), usage=None))
    cut = generate(emu)
    assert (cut.finish_reason, cut.native_finish_reason) == ("length", "max_tokens")
    assert cut.usage.estimated  # the script reported none, so rill counted
