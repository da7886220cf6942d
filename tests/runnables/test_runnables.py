"""The Runnable interface end to end against the emulator: what a user sees
from invoke / stream / batch / astream_events, errors and cancellation in
the middle of a chain, callbacks and custom events."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel

import rill
from rill.providers import get_provider
from rill.testing import Emulator, Fault, Script

from .sse import openai_body


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def chat(emu: Emulator, **kw: Any) -> rill.ChatModel:
    return rill.ChatModel("openai/m", base_url=emu.base_url, api_key="k", **kw)


# ------------------------------------------------------------ seed behaviours


def test_a_non_streaming_models_stream_yields_one_value(emu: Emulator) -> None:
    rill.register_provider(
        replace(get_provider("vllm"), name="whole-seed", streaming=False), replace=True
    )
    emu.enqueue(Script.of_text("one two three"))
    model = rill.ChatModel("whole-seed/m", base_url=emu.base_url)
    chunks = list(model.stream("hi"))
    assert [c.content for c in chunks] == ["one two three"]
    assert emu.requests[-1].json.get("stream") is not True  # asked for the whole response
    emu.enqueue(Script.of_text("one two three"))
    kinds = [e["event"] for e in model.stream_events("hi")]
    assert kinds == ["on_chat_model_start", "on_chat_model_end"]


async def test_astream_events_on_a_lone_chat_model(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(openai_body(["Gold", "fish"])))
    events = [e async for e in chat(emu).astream_events("hi", version="v2")]
    kinds = [e["event"] for e in events]
    assert kinds == ["on_chat_model_start", *["on_chat_model_stream"] * 3, "on_chat_model_end"]
    assert events[0]["data"] == {"input": "hi"}
    assert events[-1]["data"]["output"].content == "Goldfish"
    assert all(e["parent_ids"] == [] for e in events)
    assert events[0]["metadata"]["ls_provider"] == "openai"


def test_chunks_add_up_to_the_message(emu: Emulator) -> None:
    emu.enqueue(
        Script.of_tool_calls([rill.testing.ScriptedToolCall("lookup", {"city": "Paris"}, id="c1")])
    )
    chunks = list(chat(emu).stream("weather?"))
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert [(t.id, t.name, t.arguments) for t in total.tool_calls] == [
        ("c1", "lookup", '{"city":"Paris"}')
    ]
    assert total.usage == chunks[-1].usage  # reported once, not summed
    assert total.finish_reason == "tool_calls"


def test_invoke_returns_the_response_and_the_chain_its_last_steps_output(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("Hi there"))
    response = chat(emu).invoke("hi")
    assert isinstance(response, rill.GenerationResponse)
    assert response.content == "Hi there"
    emu.enqueue(Script.of_text("Hi there"))
    assert (rill.prompt("{q}") | chat(emu) | rill.TextParser()).invoke({"q": "x"}) == "Hi there"


# ------------------------------------------------------------ parsers, prompt


class Fish(BaseModel):
    name: str
    facts: list[str]


def test_json_and_pydantic_parsers_stream_partial_values(emu: Emulator) -> None:
    pieces = ['{"name": "gold', 'fish", "facts": ["swi', 'ms"]}']
    emu.enqueue(Script.of_body(openai_body(pieces)))
    values = list((chat(emu) | rill.JsonParser()).stream("x"))
    assert values == [
        {"name": "gold"},
        {"name": "goldfish", "facts": ["swi"]},
        {"name": "goldfish", "facts": ["swims"]},
    ]
    emu.enqueue(Script.of_body(openai_body(pieces)))
    objects = list((chat(emu) | rill.PydanticParser(Fish)).stream("x"))
    assert objects[0].name == "gold" and objects[0].facts is None
    assert objects[-1] == Fish(name="goldfish", facts=["swims"])


def test_items_parser_yields_each_item_once_complete(emu: Emulator) -> None:
    pieces = ['[{"name": "a", "facts": []}, {"na', 'me": "b", "facts": ["x"]}]']
    emu.enqueue(Script.of_body(openai_body(pieces)))
    items = list((chat(emu) | rill.ItemsParser(Fish)).stream("x"))
    assert items == [Fish(name="a", facts=[]), Fish(name="b", facts=["x"])]


def test_prompt_templates() -> None:
    template = rill.prompt(
        [("system", "You are {persona}."), ("placeholder", "{history}"), ("user", "{q}")]
    )
    value = template.invoke(
        {"persona": "terse", "history": [{"role": "user", "content": "hi"}], "q": "why?"}
    )
    assert [(m.role.value, m.content) for m in value.messages] == [
        ("system", "You are terse."),
        ("user", "hi"),
        ("user", "why?"),
    ]
    with pytest.raises(rill.InvalidRequestError, match="missing variable"):
        template.invoke({"q": "x"})


def test_generator_functions_transform_the_stream(emu: Emulator) -> None:
    def shout(texts: Iterator[str]) -> Iterator[str]:
        for text in texts:
            yield text.upper()

    emu.enqueue(Script.of_body(openai_body(["ab", "cd"])))
    assert list((chat(emu) | rill.TextParser() | shout).stream("x")) == ["AB", "CD", ""]


# ------------------------------------------------------------ batch


def test_batch_inside_a_running_event_loop(emu: Emulator) -> None:
    async def main() -> list[Any]:
        emu.enqueue(*[Script.of_text(f"answer {i}") for i in range(3)])
        return (chat(emu) | rill.TextParser()).batch(["a", "b", "c"], max_concurrency=1)

    assert asyncio.run(main()) == ["answer 0", "answer 1", "answer 2"]


def _peak_connections(emu: Emulator, run: Any) -> int:
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], emu.open_connections)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run()
    finally:
        stop.set()
        watcher.join()
    return peak[0]


@pytest.mark.parametrize(("limit", "low", "high"), [(2, 2, 2), (None, 3, 6)])
def test_batch_respects_max_concurrency(
    emu: Emulator, limit: int | None, low: int, high: int
) -> None:
    emu.default = Script.of_text("a b c d e f", tokens_per_second=40)
    chain = chat(emu) | rill.TextParser()
    peak = _peak_connections(emu, lambda: chain.batch(["x"] * 6, max_concurrency=limit))
    assert low <= peak <= high


@pytest.mark.parametrize(("limit", "low", "high"), [(2, 2, 2), (None, 3, 6)])
async def test_abatch_respects_max_concurrency(
    emu: Emulator, limit: int | None, low: int, high: int
) -> None:
    import anyio.to_thread

    emu.default = Script.of_text("a b c d e f", tokens_per_second=40)
    chain = chat(emu) | rill.TextParser()
    results: list[Any] = []
    peak, done = [0], [False]

    def watch() -> None:
        while not done[0]:
            peak[0] = max(peak[0], emu.open_connections)
            time.sleep(0.002)

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, watch)
        results = await chain.abatch(["x"] * 6, max_concurrency=limit)
        done[0] = True
    assert results == ["a b c d e f"] * 6
    assert low <= peak[0] <= high


def test_batch_return_exceptions(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("ok"), Script.of_status(400))
    out = chat(emu, max_retries=0).batch(["a", "b"], max_concurrency=1, return_exceptions=True)
    assert out[0].content == "ok"  # type: ignore[union-attr]
    assert isinstance(out[1], rill.BadRequestError)
    emu.enqueue(Script.of_status(400))
    with pytest.raises(rill.BadRequestError):
        chat(emu, max_retries=0).batch(["a"])


# ------------------------------------------------------------ errors, cancellation


def boom(text: str) -> str:
    raise ValueError("boom")


async def test_an_error_mid_chain_propagates_with_the_right_events(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(openai_body(["a", "b"])))
    chain = rill.prompt("{q}") | chat(emu) | rill.TextParser() | boom
    seen: list[str] = []
    with pytest.raises(ValueError, match="boom"):
        async for event in chain.astream_events({"q": "x"}):
            seen.append(f"{event['event']}:{event['name']}")
    # Runs that finished ended; the failing step and the chain did not.
    assert "on_parser_end:TextParser" in seen
    assert "on_chain_start:boom" in seen
    assert "on_chain_end:boom" not in seen
    assert "on_chain_end:RunnableSequence" not in seen


async def test_a_stream_error_mid_chain_closes_the_connection(emu: Emulator) -> None:
    body = openai_body(["a", "b", "c", "d"])
    emu.enqueue(Script.of_body(body, faults=(Fault.close_after(len(body) // 2),)))
    chain = rill.prompt("{q}") | chat(emu, max_retries=0) | rill.TextParser()
    with pytest.raises(rill.StreamError):
        async for _ in chain.astream_events({"q": "x"}):
            pass
    assert await emu.await_closed()


async def test_breaking_out_of_a_chain_closes_the_connection(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("x " * 400, tokens_per_second=200))
    chain = rill.prompt("{q}") | chat(emu) | rill.TextParser()
    events = chain.astream_events({"q": "x"})
    async for event in events:
        if event["event"] == "on_parser_stream":
            break
    await events.aclose()  # type: ignore[attr-defined]
    # Waiting without yielding to the event loop: the connection must be
    # closed by aclose() itself, not later by a finalizer the loop runs.
    assert emu.wait_closed(2.0)


def test_breaking_out_of_a_sync_stream_closes_the_connection(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("x " * 400, tokens_per_second=200))
    stream = (chat(emu) | rill.TextParser()).stream("x")
    for _ in stream:
        break
    stream.close()  # type: ignore[attr-defined]
    assert emu.wait_closed()


# ------------------------------------------------------------ callbacks, custom events


class Recorder(rill.CallbackHandler):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_start(self, event: dict[str, Any]) -> None:
        self.seen.append(event["event"])

    def on_end(self, event: dict[str, Any]) -> None:
        self.seen.append(event["event"])


class Broken(rill.CallbackHandler):
    def on_chunk(self, event: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")


class Slow(rill.CallbackHandler):
    def __init__(self) -> None:
        self.count = 0

    async def on_chunk(self, event: dict[str, Any]) -> None:
        import anyio

        await anyio.sleep(0.05)
        self.count += 1


def test_callbacks_hear_every_run_and_a_raising_one_changes_nothing(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emu.enqueue(Script.of_body(openai_body(["a", "b"])))
    recorder = Recorder()
    chain = rill.prompt("{q}") | chat(emu) | rill.TextParser()
    out = list(chain.stream({"q": "x"}, config={"callbacks": [recorder, Broken()]}))
    assert out == ["a", "b", ""]
    assert recorder.seen[0] == "on_chain_start" and recorder.seen[-1] == "on_chain_end"
    assert "on_chat_model_end" in recorder.seen
    assert "handler bug" in caplog.text


async def test_a_slow_async_handler_does_not_hold_the_stream(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(openai_body(["a"] * 10)))
    slow = Slow()
    chain = (chat(emu) | rill.TextParser()).with_config(callbacks=[slow])
    first_gap = None
    started = time.perf_counter()
    seen = 0
    async for _ in chain.astream("x"):
        seen += 1
        if seen == 11:
            first_gap = time.perf_counter() - started
    total = time.perf_counter() - started
    # The handler hears 33 chunk events (11 per run), 50 ms each: 1.65 s. The
    # stream did not wait for it (all 11 chunks in well under that), but the
    # call, once the stream ended, did: every event was handled.
    assert first_gap is not None and first_gap < 1.0
    assert slow.count == 33 and total >= 33 * 0.05


async def test_dispatch_event_from_a_step(emu: Emulator) -> None:
    def step(text: str) -> str:
        rill.dispatch_event("progress", {"done": 1})
        return text

    emu.enqueue(Script.of_body(openai_body(["a"])))
    chain = (chat(emu) | rill.TextParser() | step).with_config(tags=["t"])
    events = [e async for e in chain.astream_events("x")]
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert [(e["name"], e["data"], e["tags"]) for e in custom] == [("progress", {"done": 1}, ["t"])]
    step_run = next(e for e in events if e["name"] == "step")
    assert custom[0]["run_id"] == step_run["run_id"]
    with pytest.raises(rill.InvalidRequestError, match="outside a runnable step"):
        rill.dispatch_event("x", {})


# ------------------------------------------------------------ configuration


def test_bad_configuration_is_an_error_at_the_call(emu: Emulator) -> None:
    with pytest.raises(rill.InvalidRequestError, match="unknown parameter"):
        rill.ChatModel("openai/m", temprature=0)
    with pytest.raises(rill.UnknownProviderError):
        rill.ChatModel("nope/m")
    with pytest.raises(rill.InvalidRequestError, match="unknown config"):
        chat(emu).stream("x", config={"tag": ["x"]})  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidRequestError, match="version"):
        chat(emu).astream_events("x", version="v3")  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidRequestError, match="client="):
        rill.ChatModel("openai/m", client=object())


def test_bind_with_config_retry_and_fallbacks(emu: Emulator) -> None:
    model = chat(emu, temperature=0).bind(max_tokens=5)
    emu.enqueue(Script.of_text("ok"))
    model.invoke("x")
    sent = emu.requests[-1].params
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 5
    assert emu.requests[-1].json["temperature"] == 0

    named = model.with_config(run_name="writer", tags=["a"], metadata={"k": 1})
    emu.enqueue(Script.of_text("ok"))
    start = next(iter(named.stream_events("x")))
    assert (start["name"], start["tags"], start["metadata"]["k"]) == ("writer", ["a"], 1)

    emu.enqueue(Script.of_status(400), Script.of_text("second"))
    retried = chat(emu, max_retries=0).with_retry(stop_after_attempt=2)
    retried.initial_wait = 0.0
    assert retried.invoke("x").content == "second"

    emu.enqueue(Script.of_status(400), Script.of_text("fallback"))
    guarded = chat(emu, max_retries=0).with_fallbacks([chat(emu)])
    assert guarded.invoke("x").content == "fallback"


class Errors(rill.CallbackHandler):
    def __init__(self) -> None:
        self.failed: list[str] = []

    def on_error(self, event: dict[str, Any]) -> None:
        self.failed.append(event["name"])


async def test_cancelling_a_chain_closes_the_connection_and_tells_handlers(emu: Emulator) -> None:
    import anyio

    emu.enqueue(Script.of_text("x " * 400, tokens_per_second=100))
    errors = Errors()
    chain = rill.prompt("{q}") | chat(emu) | rill.TextParser()
    with anyio.CancelScope() as scope:
        async for event in chain.astream_events({"q": "x"}, config={"callbacks": [errors]}):
            if event["event"] == "on_parser_stream":
                scope.cancel()  # the next read, inside the chain, is cancelled
    assert scope.cancelled_caught
    assert emu.wait_closed(2.0)
    assert set(errors.failed) == {"ChatModel", "TextParser", "RunnableSequence"}


async def test_abatch_raises_the_error_itself_and_as_completed_can_be_left(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("ok"), Script.of_status(400))
    model = chat(emu, max_retries=0)
    with pytest.raises(rill.BadRequestError):
        await model.abatch(["a", "b"], max_concurrency=1)
    emu.default = Script.of_text("slow " * 50, tokens_per_second=100)
    before = len(emu.requests)
    done = model.abatch_as_completed(["a", "b", "c"], max_concurrency=1)
    async for index, result in done:
        assert index in (0, 1, 2) and result.content.startswith("slow")  # type: ignore[union-attr]
        break
    await done.aclose()  # type: ignore[attr-defined]
    import anyio

    # The call still running is cancelled: its connection closes (the first
    # call's may stay in the client's pool); the third never starts.
    with anyio.move_on_after(5):
        while emu.open_connections > 1:
            await anyio.sleep(0.01)
    assert emu.open_connections <= 1
    await anyio.sleep(0.3)
    assert len(emu.requests) - before <= 2


async def test_parallel_branches_run_at_once_and_close_on_exit(emu: Emulator) -> None:
    import anyio

    emu.default = Script.of_text("w " * 30, tokens_per_second=100)
    both = rill.prompt("{q}") | {"a": chat(emu) | rill.TextParser(), "b": chat(emu)}
    peak, done = [0], [False]

    async def watch() -> None:
        while not done[0]:
            peak[0] = max(peak[0], emu.open_connections)
            await anyio.sleep(0.005)

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        out = await both.ainvoke({"q": "x"})
        done[0] = True
    assert out["a"] == "w " * 30 and out["b"].content == "w " * 30
    assert peak[0] == 2  # both requests were open at the same time


async def test_leaving_a_parallel_stream_closes_both_connections(emu: Emulator) -> None:
    emu.default = Script.of_text("w " * 300, tokens_per_second=100)
    both = rill.prompt("{q}") | {"a": chat(emu) | rill.TextParser(), "b": chat(emu)}
    stream = both.astream({"q": "x"})
    seen: set[str] = set()
    async for chunk in stream:
        seen |= set(chunk)
        if seen == {"a", "b"}:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert emu.wait_closed(2.0)  # closed by aclose itself, not by a finalizer later


async def test_an_error_in_one_branch_propagates(emu: Emulator) -> None:
    emu.default = Script.of_text("w " * 20, tokens_per_second=100)
    both = rill.prompt("{q}") | {"a": chat(emu), "b": boom}
    with pytest.raises(ValueError, match="boom"):
        await both.ainvoke({"q": "x"})
