"""The OpenAI Responses provider (``openai-responses/...``).

Conformance: every recorded body in ``openai-responses`` is served over real
HTTP by the emulator and decoded by rill; the result must equal the final
response the official ``openai`` SDK gives for the same bytes
(``responses.stream(...).get_final_response()``; for the resumed background
stream, which begins with ``response.queued`` and which that helper refuses,
the ``response.completed`` event of ``responses.retrieve(..., stream=True)``).

What is compared: output text, refusal, function calls (call_id, name,
arguments), reasoning (summary texts and reasoning texts, one paragraph each,
joined by a blank line as rill streams them), status and incomplete reason
(rill's native finish reason), usage, model, id, token logprobs, and the
output items' types and (for messages and function calls) ids.

Where the SDK's final object differs from the streamed events, rill follows
the events, which is what a resumed stream needs: the final ``response`` of
``pai-resp-logprobs`` rounds the logprobs (-1.9e-7 becomes -0.0), so they are
compared to 1e-5; ``pai-resp-gpt5-web-search`` re-encrypts the reasoning items
(a different ``encrypted_content`` than at ``output_item.done``) and
OpenRouter gives its reasoning item a new id, so reasoning items are compared
by type only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rill
from rill import GenerationResponse, Message, MessageRole, ToolCall
from rill.providers import Call
from rill.providers._openai_responses import OpenAIResponsesCodec
from rill.testing import Emulator, Fault, Reply, Script, ScriptedToolCall

from ..conftest import wire_files
from ..decoding import call, decode_split

WHOLE = Call(model="m", messages=(), provider="openai-responses")
"""The call a whole (non-streamed) body answers, for ``decode_response``."""

BODIES = wire_files("openai-responses")
IDS = [p.name for p in BODIES]
RESUMED = "pai-resp-background-resume.sse"
MODEL = "openai-responses/gpt-test"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def sdk(emulator: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emulator.base_url, api_key="test", max_retries=0) as client:
        yield client


def generate(emu: Emulator, script: Script, prompt: Any = "x", **kw: Any) -> GenerationResponse:
    emu.enqueue(script)
    return rill.generate(prompt, model=MODEL, base_url=emu.base_url, api_key="k", **kw)


# ------------------------------------------------------------- conformance


def sdk_final(client: openai.OpenAI, emu: Emulator, path: Path) -> Any:
    emu.enqueue(Script.of_body(path.read_bytes()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns while dumping web_search_call items
        if path.name == RESUMED:
            events = client.responses.retrieve("resp_1", stream=True, starting_after=0)
            return next(e.response for e in events if e.type == "response.completed")
        with client.responses.stream(model="m", input="x") as stream:
            return stream.get_final_response()


def rill_final(emu: Emulator, path: Path) -> GenerationResponse:
    emu.enqueue(Script.of_body(path.read_bytes()))
    if path.name == RESUMED:
        stream = rill.resume_stream("resp_1", starting_after=0, base_url=emu.base_url, api_key="k")
        return stream.until_done()
    return rill.generate("x", model=MODEL, base_url=emu.base_url, api_key="k")


def sdk_view(response: Any) -> dict[str, Any]:
    refusal: list[Any] = []
    reasoning: list[Any] = []
    calls: list[Any] = []
    logprobs: list[Any] = []
    for item in response.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "refusal":
                    refusal.append(part.refusal)
                else:
                    logprobs.extend(lp.model_dump() for lp in part.logprobs or ())
        elif item.type == "reasoning":
            reasoning.extend(s.text for s in item.summary)
            reasoning.extend(c.text for c in item.content or ())
        elif item.type == "function_call":
            calls.append((item.call_id, item.name, item.arguments))
    details = response.incomplete_details
    usage = response.usage
    return {
        "content": response.output_text,
        "refusal": "".join(refusal),
        "reasoning": "\n\n".join(reasoning),
        "tool_calls": calls,
        "finish": "tool_calls" if calls else "stop",
        "native": details.reason if details else response.status,
        "usage": (
            usage.input_tokens,
            usage.output_tokens,
            usage.total_tokens,
            usage.output_tokens_details.reasoning_tokens,
            usage.input_tokens_details.cached_tokens,
        ),
        "model": response.model,
        "id": response.id,
        "items": [_item_key(item.type, item.id) for item in response.output],
        "logprobs": logprobs,
    }


def rill_view(response: GenerationResponse) -> dict[str, Any]:
    usage = response.usage
    assert not usage.estimated
    return {
        "content": response.content,
        "refusal": response.refusal,
        "reasoning": response.reasoning,
        "tool_calls": [(t.id, t.name, t.arguments) for t in response.tool_calls],
        "finish": response.finish_reason,
        "native": response.native_finish_reason,
        "usage": (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            usage.reasoning_tokens,
            usage.cached_tokens,
        ),
        "model": response.model,
        "id": response.id,
        "items": [_item_key(item["type"], item.get("id")) for item in response.items],
        "logprobs": response.logprobs or [],
    }


def _item_key(kind: str, item_id: str | None) -> tuple[str, str | None]:
    return (kind, item_id if kind in ("message", "function_call") else None)


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
def test_matches_the_openai_sdk(emulator: Emulator, sdk: openai.OpenAI, path: Path) -> None:
    expected = sdk_view(sdk_final(sdk, emulator, path))
    got = rill_view(rill_final(emulator, path))
    expected_lp, got_lp = expected.pop("logprobs"), got.pop("logprobs")
    assert got == expected
    assert [(t["token"], t["bytes"]) for t in got_lp] == [
        (t["token"], t["bytes"]) for t in expected_lp
    ]
    for mine, theirs in zip(got_lp, expected_lp, strict=True):
        assert mine["logprob"] == pytest.approx(theirs["logprob"], abs=1e-5)


@pytest.mark.shared
def test_corpus_specifics(emulator: Emulator) -> None:
    by_name = {p.name: p for p in BODIES}
    summary = rill_final(emulator, by_name["pai-resp-o3mini-reasoning-summary.sse"])
    assert summary.reasoning.count("\n\n**") == 3  # four summary parts, four paragraphs
    cot = rill_final(emulator, by_name["openrouter-resp-gptoss-raw-cot.sse"])
    assert [i["type"] for i in cot.items] == ["reasoning", "message"]  # output order
    reasoning_fc = rill_final(emulator, by_name["pai-resp-gpt5-reasoning-fc.sse"])
    assert reasoning_fc.items[0]["encrypted_content"].startswith("gAAAAAB")
    assert len(rill_final(emulator, by_name["pai-resp-logprobs.sse"]).logprobs or ()) == 9


@pytest.mark.shared
def test_chunks_carry_the_sequence_number(emulator: Emulator) -> None:
    [path] = [p for p in BODIES if p.name == "llm-resp-gpt55-basic.sse"]
    emulator.enqueue(Script.of_body(path.read_bytes()))
    chunks = list(rill.generate_stream("x", model=MODEL, base_url=emulator.base_url, api_key="k"))
    numbers = [c.raw["sequence_number"] for c in chunks]
    assert numbers == sorted(numbers) and numbers[0] == 0 and len(set(numbers)) == len(numbers)


def final_object(body: bytes) -> bytes:
    """The ``response`` of a recorded stream's terminal event, as JSON."""
    for line in body.splitlines():
        if line.startswith(b"data: {") and b'"response.completed"' in line[:40]:
            return orjson.dumps(orjson.loads(line[6:])["response"])
    raise AssertionError("no response.completed event")


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
def test_the_stream_adds_up_to_the_whole_response(emulator: Emulator, path: Path) -> None:
    """A non-streamed body (the final ``response`` object) decodes to what the
    stream accumulated, also when it is served under ``text/event-stream``."""
    streamed = rill_view(rill_final(emulator, path))
    whole = rill_view(generate(emulator, Script.of_body(final_object(path.read_bytes()))))
    for view in (streamed, whole):
        view.pop("items")  # re-encrypted reasoning and new ids, see the module docstring
        view["logprobs"] = [(t["token"], t["bytes"]) for t in view["logprobs"]]
    assert whole == streamed


# ------------------------------------------------------------- byte splits


def decode(body: bytes, cuts: list[int]) -> tuple[list[Any], Any]:
    return decode_split(OpenAIResponsesCodec().stream_decoder(call()), body, cuts)


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(path: Path, data: st.DataObject) -> None:
    body = path.read_bytes()
    whole = decode(body, [])
    assert whole[1][3]  # complete
    assert decode(body, data.draw(st.lists(st.integers(0, len(body)), max_size=40))) == whole
    near = data.draw(st.integers(0, max(0, len(body) - 64)))
    assert decode(body, list(range(near, min(len(body), near + 64)))) == whole


# ------------------------------------------------------------------ errors


FAILED = (
    b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
    b'"response":{"id":"resp_f","model":"m","status":"in_progress","error":null,"output":[]}}\n\n'
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
    b'"sequence_number":1,"output_index":0,"content_index":0,"delta":"Hel"}\n\n'
    b'event: response.failed\ndata: {"type":"response.failed","sequence_number":2,'
    b'"response":{"id":"resp_f","model":"m","status":"failed","output":[],"usage":null,'
    b'"error":{"code":"server_error","message":"The model failed."}}}\n\n'
)
ERROR_EVENT = (
    FAILED.split(b"event: response.failed")[0]
    + b'event: error\ndata: {"type":"error","sequence_number":2,"code":"rate_limit_exceeded",'
    b'"message":"Slow down.","param":null}\n\n'
)


def test_response_failed_raises_with_the_partial(emulator: Emulator) -> None:
    with pytest.raises(rill.ProviderStreamError, match="The model failed") as info:
        generate(emulator, Script.of_body(FAILED))
    assert info.value.code == "server_error"
    assert info.value.partial is not None
    assert info.value.partial.content == "Hel"
    assert info.value.partial.finish_reason == "error"
    assert info.value.partial.native_finish_reason == "failed"


def test_error_event_raises_with_the_partial(emulator: Emulator) -> None:
    with pytest.raises(rill.ProviderStreamError, match="Slow down") as info:
        generate(emulator, Script.of_body(ERROR_EVENT))
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.partial is not None and info.value.partial.content == "Hel"


def test_injected_error_event(emulator: Emulator) -> None:
    # created, in_progress, output_item.added, content_part.added, then two deltas
    script = Script.of_text("Hello there, world", faults=(Fault.error_event_after(6),))
    with pytest.raises(rill.ProviderStreamError) as info:
        generate(emulator, script)
    assert info.value.partial is not None and info.value.partial.content == "Hello there"


def test_json_error_body_under_event_stream(emulator: Emulator) -> None:
    body = b'{"error":{"message":"Bad model","type":"invalid_request_error","code":null}}'
    with pytest.raises(rill.ProviderStreamError, match="Bad model"):
        generate(emulator, Script.of_body(body))


def test_http_error_status(emulator: Emulator) -> None:
    with pytest.raises(rill.BadRequestError):
        generate(emulator, Script.of_status(400), max_retries=0)


def test_malformed_json_is_a_protocol_error(emulator: Emulator) -> None:
    body = FAILED.split(b"event: response.failed")[0] + b"data: {nope\n\n"
    with pytest.raises(rill.ProtocolError) as info:
        generate(emulator, Script.of_body(body))
    assert info.value.partial is not None and info.value.partial.content == "Hel"


def test_a_cut_stream_is_incomplete(emulator: Emulator) -> None:
    body = FAILED.split(b"event: response.failed")[0]
    with pytest.raises(rill.IncompleteStreamError) as info:
        generate(emulator, Script.of_body(body))
    assert info.value.partial is not None and info.value.partial.content == "Hel"


# --------------------------------------------------------------- emulator


REPLY = Reply(
    text="Let me check both.",
    reasoning="The user wants weather for two cities.",
    tool_calls=(
        ScriptedToolCall("get_weather", {"city": "Paris"}),
        ScriptedToolCall("get_weather", {"city": "Rome"}),
    ),
)
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


def test_scripted_conversation_round_trips(emulator: Emulator) -> None:
    prompt: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
    ]
    first = generate(emulator, Script(replies=(REPLY,)), prompt, tools=TOOLS)
    assert first.content == "Let me check both."
    assert first.reasoning == "The user wants weather for two cities."
    assert [(t.id, t.name, t.args) for t in first.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"}),
        ("call_2", "get_weather", {"city": "Rome"}),
    ]
    assert first.finish_reason == "tool_calls" and first.native_finish_reason == "completed"
    assert [i["type"] for i in first.items] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert not first.usage.estimated and first.usage.reasoning_tokens > 0

    prompt.append(first.to_message())
    prompt += [
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Rainy"},
    ]
    second = generate(emulator, Script.of_text("Paris is sunny; Rome is rainy."), prompt)
    assert second.content == "Paris is sunny; Rome is rainy."
    assert second.finish_reason == "stop"

    sent = emulator.requests[-1].json
    assert sent["instructions"] == "Be brief."
    assert sent["input"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        *first.items,  # verbatim, ids and all, in output order
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": "Rainy"},
    ]


def test_the_sdk_reads_the_emulator_stream(emulator: Emulator, sdk: openai.OpenAI) -> None:
    emulator.enqueue(Script(replies=(REPLY,)))
    with sdk.responses.stream(model="gpt-test", input="x") as stream:
        final = stream.get_final_response()
    mine = generate(emulator, Script(replies=(REPLY,)))
    expected, got = sdk_view(final), rill_view(mine)
    for view in (expected, got):
        view.pop("id")
        view.pop("items")
    assert got == expected


def test_emulator_non_streamed_response(emulator: Emulator, sdk: openai.OpenAI) -> None:
    emulator.enqueue(Script(replies=(REPLY,)))
    response = sdk.responses.create(model="m", input="x")
    assert response.output_text == "Let me check both."
    body = orjson.dumps(response.model_dump(mode="json"))
    [chunk] = OpenAIResponsesCodec().decode_response(WHOLE, body)
    assert chunk.content == "Let me check both."
    assert chunk.reasoning == "The user wants weather for two cities."
    assert [(c.index, c.id, c.name) for c in chunk.tool_calls] == [
        (0, "call_1", "get_weather"),
        (1, "call_2", "get_weather"),
    ]
    assert chunk.finish_reason == "tool_calls"
    assert chunk.usage is not None and chunk.usage.prompt_tokens == 1


@pytest.mark.parametrize(
    ("finish", "native"),
    [("length", "max_output_tokens"), ("content_filter", "content_filter")],
)
def test_incomplete_responses(emulator: Emulator, finish: str, native: str) -> None:
    script = Script(replies=(Reply(text="Cut off here", finish_reason=finish),))
    response = generate(emulator, script)
    assert response.content == "Cut off here"
    assert (response.finish_reason, response.native_finish_reason) == (finish, native)


def test_refusal_and_logprobs(emulator: Emulator) -> None:
    script = Script(replies=(Reply(text="Hi there", refusal="I can't help.", logprobs=True),))
    response = generate(emulator, script, logprobs=True, top_logprobs=2)
    assert response.refusal == "I can't help."
    assert [t["token"] for t in response.logprobs or ()] == ["Hi", " there"]
    assert emulator.requests[-1].json["include"] == ["message.output_text.logprobs"]
    assert emulator.requests[-1].json["top_logprobs"] == 2


async def test_async_generate(emulator: Emulator) -> None:
    emulator.enqueue(Script(replies=(REPLY,)))
    response = await rill.agenerate("x", model=MODEL, base_url=emulator.base_url, api_key="k")
    assert response.content == "Let me check both." and len(response.tool_calls) == 2


# ------------------------------------------------------------------ resume


@pytest.mark.shared
def test_resume_a_recorded_background_stream(emulator: Emulator) -> None:
    [path] = [p for p in BODIES if p.name == RESUMED]
    emulator.enqueue(Script.of_body(path.read_bytes()))
    with rill.resume_stream(
        "resp_0850", starting_after=0, base_url=emulator.base_url, api_key="k"
    ) as stream:
        chunks = list(stream)
    request = emulator.requests[-1]
    assert (request.method, request.path, request.body) == ("GET", "/v1/responses/resp_0850", b"")
    assert request.query == {"stream": "true", "starting_after": "0"}
    assert request.headers["authorization"] == "Bearer k"
    assert chunks[0].raw["sequence_number"] == 1
    assert stream.response.content == "2 + 2 equals 4."
    assert stream.response.model == "gpt-4o-2024-08-06"


def test_resume_a_scripted_stream_after_an_event(emulator: Emulator) -> None:
    emulator.enqueue(Script.of_text("One two three four"))
    whole = list(rill.generate_stream("x", model=MODEL, base_url=emulator.base_url, api_key="k"))
    cut = next(c.raw["sequence_number"] for c in whole if c.content == " two")
    emulator.enqueue(Script.of_text("One two three four"))
    stream = rill.resume_stream(
        "resp_rill000001", model=MODEL, starting_after=cut, base_url=emulator.base_url, api_key="k"
    )
    rest = stream.until_done()
    assert rest.content == " three four"
    assert rest.id == "resp_rill000001" and rest.finish_reason == "stop"
    assert "".join(c.content for c in whole) == "One two" + rest.content


async def test_aresume_stream(emulator: Emulator) -> None:
    emulator.enqueue(Script.of_text("Hello again"))
    stream = rill.aresume_stream("resp_9", base_url=emulator.base_url, api_key="k")
    response = await stream.auntil_done()
    assert response.content == "Hello again"
    assert "starting_after" not in emulator.requests[-1].query


def test_emulator_retrieves_a_response(emulator: Emulator) -> None:
    import httpx

    emulator.enqueue(Script.of_text("Stored answer"))
    got = httpx.get(f"{emulator.base_url}/responses/resp_42", timeout=5)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    [chunk] = OpenAIResponsesCodec().decode_response(WHOLE, got.content)
    assert (chunk.id, chunk.content, chunk.finish_reason) == ("resp_42", "Stored answer", "stop")
    assert httpx.get(f"{emulator.base_url}/chat/completions/x", timeout=5).status_code == 404


@pytest.mark.parametrize(
    ("response_id", "options", "match"),
    [
        ("", {}, "response_id"),
        ("resp_1", {"starting_after": -1}, "starting_after"),
        ("resp_1", {"starting_after": "3"}, "starting_after"),
        ("resp_1", {"model": "openai/gpt-4o"}, "cannot resume"),
        ("resp_1", {"temperature": 0.5}, "unknown option"),
    ],
)
def test_resume_rejects_bad_calls(response_id: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(rill.InvalidRequestError, match=match):
        rill.resume_stream(response_id, api_key="k", **options)


def test_resume_needs_a_key() -> None:
    with pytest.raises(rill.MissingAPIKeyError):
        rill.resume_stream("resp_1")


# ---------------------------------------------------------------- requests


def body_for(prompt: Any, **kw: Any) -> dict[str, Any]:
    from rill._request import prepare_request

    request = prepare_request(prompt, {"model": MODEL, "api_key": "k", **kw})
    assert request.http.url == "https://api.openai.com/v1/responses"
    assert request.http.headers["authorization"] == "Bearer k"
    body: dict[str, Any] = orjson.loads(request.http.body)
    return body


def test_instructions_and_messages_in_place() -> None:
    body = body_for(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "system", "content": "Now be verbose."},
            {"role": "user", "content": [{"type": "text", "text": "Look"}, IMAGE]},
        ]
    )
    assert body["instructions"] == "Be brief.\n\nUse metric units."
    assert body["input"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "system", "content": "Now be verbose."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look"},
                {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"},
            ],
        },
    ]
    assert body["stream"] is True
    assert body["model"] == "gpt-test"


IMAGE = {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}}


def test_tools_and_tool_choice() -> None:
    strict = {**TOOLS[0], "name": "strict_one", "strict": True}
    body = body_for("x", tools=[*TOOLS, strict], tool_choice="get_weather")
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city.",
            "parameters": TOOLS[0]["parameters"],
            "strict": False,
        },
        {
            "type": "function",
            "name": "strict_one",
            "description": "Weather in a city.",
            "parameters": TOOLS[0]["parameters"],
            "strict": True,
        },
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    for word in ("auto", "none", "required"):
        assert body_for("x", tools=TOOLS, tool_choice=word)["tool_choice"] == word


def test_tool_calls_and_results_without_items() -> None:
    body = body_for(
        [
            {"role": "user", "content": "Weather?"},
            Message(
                MessageRole.ASSISTANT,
                "",
                tool_calls=[
                    ToolCall("call_a", "get_weather", '{"city":"Paris"}'),
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    },
                ],
                reasoning="thoughts from another provider",
            ),
            {"role": "tool", "tool_call_id": "call_a", "content": "Sunny"},
            {
                "role": "tool",
                "tool_call_id": "call_b",
                "content": [{"type": "input_text", "text": "ok"}],
            },
        ]
    )
    assert body["input"][1:] == [
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call", "call_id": "call_b", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_a", "output": "Sunny"},
        {
            "type": "function_call_output",
            "call_id": "call_b",
            "output": [{"type": "input_text", "text": "ok"}],
        },
    ]


def test_items_are_sent_back_without_duplicates() -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"}
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_a",
        "name": "f",
        "arguments": "{}",
    }
    message = Message(
        MessageRole.ASSISTANT,
        "Calling.",
        tool_calls=[ToolCall("call_a", "f", "{}"), ToolCall("call_b", "g", "{}")],
        items=[reasoning, call],
    )
    body = body_for([{"role": "user", "content": "Go"}, message])
    assert body["input"][1:] == [
        reasoning,
        call,
        {"role": "assistant", "content": "Calling."},
        {"type": "function_call", "call_id": "call_b", "name": "g", "arguments": "{}"},
    ]


def test_parameters() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = body_for(
        "x",
        max_tokens=50,
        temperature=0.2,
        top_p=0.9,
        reasoning_effort="low",
        parallel_tool_calls=False,
        user="u1",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "A", "schema": schema, "strict": True},
        },
    )
    assert body["max_output_tokens"] == 50
    assert (body["temperature"], body["top_p"], body["user"]) == (0.2, 0.9, "u1")
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["parallel_tool_calls"] is False
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "A", "schema": schema, "strict": True}
    }
    assert "include" not in body
    assert body_for("x", response_format={"type": "json_object"})["text"] == {
        "format": {"type": "json_object"}
    }


def test_store_false_asks_for_encrypted_reasoning() -> None:
    body = body_for("x", logprobs=True, extra_body={"store": False, "include": ["x.y"]})
    assert body["store"] is False
    assert body["include"] == ["x.y", "message.output_text.logprobs", "reasoning.encrypted_content"]


@pytest.mark.parametrize(
    "param",
    [
        {"n": 2},
        {"stop": ["END"]},
        {"seed": 1},
        {"presence_penalty": 0.5},
        {"frequency_penalty": 0.5},
    ],
)
def test_unsupported_parameters_fail_at_the_call(param: dict[str, Any]) -> None:
    with pytest.raises(rill.InvalidRequestError, match=next(iter(param))):
        rill.generate_stream("x", model=MODEL, api_key="k", **param)


def test_tool_result_needs_its_call_id() -> None:
    with pytest.raises(rill.InvalidRequestError, match="tool_call_id"):
        body_for([{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}])


def test_key_and_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rill._request import prepare_request

    with pytest.raises(rill.MissingAPIKeyError, match="OPENAI_API_KEY"):
        prepare_request("x", {"model": MODEL})
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy/v1/")
    request = prepare_request("x", {"model": MODEL})
    assert request.http.url == "http://proxy/v1/responses"
    assert request.http.headers["authorization"] == "Bearer env-key"
