"""The public generation API over real HTTP against the emulator."""

from __future__ import annotations

from typing import Any

import anyio

import rill
from rill import GenerationResponse, Message, MessageRole, ModelName, StreamChunk
from rill.testing import Emulator, Reply, Script, ScriptedToolCall

TEXT = "Streaming keeps people reading while the model writes."


def opts(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return {"model": "openai/gpt-4o-mini", "base_url": emu.base_url, "api_key": "sk-test", **extra}


def test_stream_yields_chunks_and_accumulates(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    seen: list[StreamChunk] = []
    with rill.generate_stream(
        [Message(role=MessageRole.USER, content="Hi")], callback=seen.append, **opts(rill_emulator)
    ) as stream:
        chunks = list(stream)
        final = stream.response
    assert "".join(c.content for c in chunks) == TEXT
    assert seen == chunks  # the callback saw every chunk
    assert final.content == TEXT
    assert final.finish_reason == "stop"
    assert final.provider == "openai"
    assert final.model == "gpt-4o-mini"
    assert final.id
    assert final.usage.completion_tokens > 0 and not final.usage.estimated
    assert final.timing.chunks == len(chunks)
    assert final.timing.ttft is not None and final.timing.total >= final.timing.ttft
    assert chunks[-1].usage == final.usage  # usage arrives on its own chunk
    assert rill_emulator.requests[0].json["stream_options"] == {"include_usage": True}


def test_callback_runs_before_the_chunk_is_yielded(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    order: list[str] = []
    stream = rill.generate_stream(
        "Hi", callback=lambda c: order.append("cb:" + c.content), **opts(rill_emulator)
    )
    for chunk in stream:
        order.append("yield:" + chunk.content)
    assert order[0::2] == ["cb:" + o[6:] for o in order[1::2]]


def test_response_is_a_snapshot_before_the_end(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    stream = rill.generate_stream("Hi", **opts(rill_emulator))
    texts = []
    for chunk in stream:
        if chunk.content:
            texts.append(stream.response.content)
    assert texts[0] and texts[-1] == TEXT
    assert all(TEXT.startswith(t) for t in texts)


def test_generate_with_model_name_reasoning_and_n(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script(replies=(Reply(text="Four.", reasoning="2+2 is 4"),)))
    response = rill.generate(
        "2+2?",
        model=ModelName.GPT_4O_MINI,
        base_url=rill_emulator.base_url,
        api_key="k",
        n=3,
    )
    assert isinstance(response, GenerationResponse)
    assert [c.index for c in response.choices] == [0, 1, 2]
    assert all(c.content == "Four." and c.reasoning == "2+2 is 4" for c in response.choices)
    assert response.usage.reasoning_tokens > 0


def test_reasoning_field_of_groq_and_openrouter(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(
        Script(replies=(Reply(text="ok", reasoning="thinking", reasoning_field="reasoning"),))
    )
    response = rill.generate("Hi", **opts(rill_emulator, model="groq/some-model"))
    assert (response.content, response.reasoning) == ("ok", "thinking")


def test_tool_calls_and_refusal(rill_emulator: Emulator) -> None:
    calls = (
        ScriptedToolCall("get_weather", {"city": "Paris"}),
        ScriptedToolCall("get_time", '{"tz": "CET"}'),
    )
    rill_emulator.enqueue(Script(replies=(Reply(tool_calls=calls),)))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    response = rill.generate("weather?", **opts(rill_emulator, tools=tools))
    assert response.finish_reason == "tool_calls"
    assert [(t.name, t.args) for t in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert all(t.id for t in response.tool_calls)
    rill_emulator.enqueue(Script(replies=(Reply(refusal="I can't help with that."),)))
    refused = rill.generate("bad", **opts(rill_emulator))
    assert refused.refusal == "I can't help with that." and refused.content == ""


def test_logprobs_are_kept(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script(replies=(Reply(text="Foo bar", logprobs=True),)))
    response = rill.generate("Hi", **opts(rill_emulator, logprobs=True))
    assert response.logprobs is not None
    assert "".join(t["token"] for t in response.logprobs) == "Foo bar"


def test_usage_is_estimated_when_the_provider_reports_none(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, usage=None))
    response = rill.generate("Hi", **opts(rill_emulator))
    assert response.usage.estimated
    assert response.usage.completion_tokens == (len(TEXT) + 3) // 4
    assert response.usage.total_tokens == response.usage.prompt_tokens + (len(TEXT) + 3) // 4


def test_server_that_answers_with_a_whole_json_response(rill_emulator: Emulator) -> None:
    body = (
        b'{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}'
    )
    rill_emulator.enqueue(Script.of_body(body, content_type="application/json"))
    chunks = list(rill.generate_stream("Hi", **opts(rill_emulator)))
    assert [c.content for c in chunks] == ["whole"]
    assert chunks[0].finish_reason == "stop" and chunks[0].usage is not None


def test_paced_stream_timing(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(
        Script.of_text("one two three four five", ttft=0.05, tokens_per_second=200)
    )
    timing = rill.generate("Hi", **opts(rill_emulator)).timing
    assert timing.ttft is not None and timing.ttft >= 0.05
    assert timing.gap_median is not None and timing.gap_max is not None
    assert timing.gap_p95 is not None and timing.gap_median <= timing.gap_p95 <= timing.gap_max
    assert timing.output_tokens_per_second is not None


async def test_async_stream_with_async_callback(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    seen: list[str] = []

    async def callback(chunk: StreamChunk) -> None:
        await anyio.sleep(0)
        seen.append(chunk.content)

    async with rill.agenerate_stream("Hi", callback=callback, **opts(rill_emulator)) as stream:
        texts = [chunk.content async for chunk in stream]
    assert "".join(texts) == TEXT == stream.response.content
    assert seen == texts


async def test_agenerate(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    response = await rill.agenerate("Hi", **opts(rill_emulator, model="deepseek/deepseek-reasoner"))
    assert response.content == TEXT and response.provider == "deepseek"


def test_raw_is_the_providers_parsed_event(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    chunks = list(rill.generate_stream("Hi", **opts(rill_emulator)))
    for chunk in chunks:
        assert isinstance(chunk.raw, dict)
        assert chunk.raw["object"] == "chat.completion.chunk" or chunk.raw.get("choices") == []
    text_chunks = [c for c in chunks if c.content]
    assert all(c.raw["choices"][0]["delta"]["content"] == c.content for c in text_chunks)
    assert text_chunks[0].raw is text_chunks[0].raw  # parsed once, then kept
