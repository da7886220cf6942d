"""Steps without a model: functions, generators, parallel branches, wrappers,
prompts, parsers and merging, sync and async, and the errors they raise at
the call."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import rill
from rill.runnables import (
    Placeholder,
    RunnableLambda,
    RunnableParallel,
    RunnableSequence,
    coerce,
)
from rill.runnables._merge import merge_values


def double(x: int) -> int:
    return x * 2


async def adouble(x: int) -> int:
    return x * 2


def split(chunks: Iterator[str]) -> Iterator[str]:
    for chunk in chunks:
        yield from chunk


async def asplit(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    async for chunk in chunks:
        for c in chunk:
            yield c


def events_of(runnable: Any, value: Any, **kw: Any) -> list[tuple[str, str]]:
    return [(e["event"], e["name"]) for e in runnable.stream_events(value, **kw)]


async def aevents_of(runnable: Any, value: Any, **kw: Any) -> list[tuple[str, str]]:
    return [(e["event"], e["name"]) async for e in runnable.astream_events(value, **kw)]


def test_functions_and_generators_sync() -> None:
    chain = RunnableLambda(double) | str | split
    assert chain.invoke(21) == "42"
    assert list(chain.stream(21)) == ["4", "2"]
    assert chain.batch([1, 2]) == ["2", "4"]
    assert [r for _, r in sorted(chain.batch_as_completed([1, 2]))] == ["2", "4"]
    # The order LangChain gives for the same chain: a function step starts
    # once its first input exists and reads the rest before it runs.
    assert events_of(chain, 1) == [
        ("on_chain_start", "RunnableSequence"),
        ("on_chain_start", "double"),
        ("on_chain_stream", "double"),
        ("on_chain_start", "str"),
        ("on_chain_end", "double"),
        ("on_chain_stream", "str"),
        ("on_chain_start", "split"),
        ("on_chain_stream", "split"),
        ("on_chain_stream", "RunnableSequence"),
        ("on_chain_end", "str"),
        ("on_chain_end", "split"),
        ("on_chain_end", "RunnableSequence"),
    ]


async def test_functions_and_generators_async() -> None:
    chain = RunnableLambda(adouble) | str | asplit | split
    assert await chain.ainvoke(21) == "42"
    assert [c async for c in chain.astream(21)] == ["4", "2"]
    assert await chain.abatch([1, 2]) == ["2", "4"]
    kinds = await aevents_of(chain, 1, include_names=["adouble", "asplit"])
    assert kinds == [
        ("on_chain_start", "adouble"),
        ("on_chain_stream", "adouble"),
        ("on_chain_end", "adouble"),
        ("on_chain_start", "asplit"),
        ("on_chain_stream", "asplit"),
        ("on_chain_end", "asplit"),
    ]


def test_an_async_function_in_a_sync_call_is_a_clear_error() -> None:
    with pytest.raises(rill.InvalidRequestError, match="async function"):
        RunnableLambda(adouble).invoke(1)


def test_parallel_sync_and_its_output() -> None:
    branches = RunnableParallel({"a": double}, b=lambda x: x + 1)
    assert branches.get_name() == "RunnableParallel<a,b>"
    assert branches.invoke(3) == {"a": 6, "b": 4}
    assert list(branches.stream(3)) == [{"a": 6}, {"b": 4}]
    assert (coerce({"a": double}) | (lambda d: d["a"])).invoke(2) == 4
    names = [n for _, n in events_of(branches, 1)]
    assert names[0] == "RunnableParallel<a,b>" and "RunnableLambda" in names


async def test_parallel_async() -> None:
    branches = RunnableParallel(a=adouble, b=split)
    assert await branches.ainvoke("ab") == {"a": "abab", "b": "ab"}


def test_composition_forms() -> None:
    seq = RunnableSequence(double, double) | double
    assert len(seq.steps) == 3 and seq.first.get_name() == "double"
    assert seq.last.get_name() == "double"
    assert (double | RunnableLambda(double)).invoke(1) == 4  # __ror__
    assert RunnableLambda(double).pipe(double, double).invoke(1) == 8
    assert "double" in repr(seq) and "RunnableLambda" in repr(RunnableParallel(a=double))
    with pytest.raises(rill.InvalidRequestError, match="at least two"):
        RunnableSequence(double)
    with pytest.raises(rill.InvalidRequestError, match="a chain step"):
        coerce(3)
    with pytest.raises(rill.InvalidRequestError, match="at least one branch"):
        RunnableParallel({})
    with pytest.raises(rill.InvalidRequestError, match="strings"):
        RunnableParallel({1: double})  # type: ignore[dict-item]
    with pytest.raises(rill.InvalidRequestError, match="takes a function"):
        RunnableLambda(3)  # type: ignore[arg-type]


class Flaky:
    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.calls = 0

    def __call__(self, x: int) -> int:
        self.calls += 1
        if self.calls <= self.fails:
            raise ConnectionError("flaky")
        return x


def test_retry_and_fallbacks_sync() -> None:
    flaky = Flaky(1)
    retried = RunnableLambda(flaky, name="flaky").with_retry(stop_after_attempt=2)
    retried.initial_wait = 0.0
    tags = [e["tags"] for e in retried.stream_events(5) if e["event"] == "on_chain_start"]
    assert tags == [[], ["retry:attempt:2"]]
    assert flaky.calls == 2
    never = RunnableLambda(Flaky(9), name="never").with_retry(stop_after_attempt=2)
    never.initial_wait = 0.0
    with pytest.raises(ConnectionError):
        never.invoke(1)
    assert RunnableLambda(Flaky(9)).with_fallbacks([double]).invoke(2) == 4
    with pytest.raises(ConnectionError):
        RunnableLambda(Flaky(9)).with_fallbacks([Flaky(9)]).invoke(2)
    with pytest.raises(rill.InvalidRequestError):
        RunnableLambda(double).with_retry(stop_after_attempt=0)
    with pytest.raises(rill.InvalidRequestError):
        RunnableLambda(double).with_fallbacks(double)  # type: ignore[arg-type]
    assert "with_retry" in repr(retried) and "with_fallbacks" in repr(
        RunnableLambda(double).with_fallbacks([double])
    )
    assert retried.get_name() == "flaky" and retried.run_type == "chain"


async def test_retry_and_fallbacks_async() -> None:
    retried = RunnableLambda(Flaky(1)).with_retry(stop_after_attempt=2)
    retried.initial_wait = 0.0
    assert await retried.ainvoke(5) == 5
    never = RunnableLambda(Flaky(9)).with_retry(stop_after_attempt=2)
    never.initial_wait = 0.0
    with pytest.raises(ConnectionError):
        await never.ainvoke(1)
    assert await RunnableLambda(Flaky(9)).with_fallbacks([adouble]).ainvoke(2) == 4
    with pytest.raises(ConnectionError):
        await RunnableLambda(Flaky(9)).with_fallbacks([Flaky(9)]).ainvoke(2)


async def test_with_config_async_and_callbacks_in_config() -> None:
    seen: list[str] = []

    class Log(rill.CallbackHandler):
        async def on_end(self, event: dict[str, Any]) -> None:
            seen.append(event["name"])

        async def on_custom(self, event: dict[str, Any]) -> None:
            seen.append(event["name"])

    def step(x: int) -> int:
        rill.dispatch_event("note", x)
        return x

    named = RunnableLambda(step).with_config(run_name="named", callbacks=[Log()])
    assert await named.ainvoke(1, config={"callbacks": [Log()]}) == 1
    assert seen.count("named") == 2 and seen.count("note") == 2
    assert [c async for c in named.astream(2)] == [2]


def test_handlers_errors() -> None:
    class Loud(rill.CallbackHandler):
        raise_error = True

        def on_start(self, event: dict[str, Any]) -> None:
            raise KeyError("loud")

    with pytest.raises(KeyError):
        RunnableLambda(double).invoke(1, config={"callbacks": [Loud()]})

    class Async(rill.CallbackHandler):
        async def on_start(self, event: dict[str, Any]) -> None:
            pass

    with pytest.raises(rill.InvalidRequestError, match="coroutine"):
        RunnableLambda(double).invoke(1, config={"callbacks": [Async()]})
    with pytest.raises(rill.InvalidRequestError, match="CallbackHandler"):
        RunnableLambda(double).invoke(1, config={"callbacks": [object()]})  # type: ignore[arg-type]


async def test_async_handler_errors() -> None:
    class Loud(rill.CallbackHandler):
        raise_error = True

        async def on_end(self, event: dict[str, Any]) -> None:
            raise KeyError("loud")

    class Quiet(rill.CallbackHandler):
        async def on_end(self, event: dict[str, Any]) -> None:
            raise KeyError("quiet")

    assert await RunnableLambda(double).ainvoke(1, config={"callbacks": [Quiet()]}) == 2
    with pytest.raises(KeyError):
        await RunnableLambda(double).ainvoke(1, config={"callbacks": [Loud()]})


def test_config_is_checked_at_the_call() -> None:
    step = RunnableLambda(double)
    for bad, match in [
        ("x", "must be a dict"),
        ({"tags": "x"}, "tags"),
        ({"metadata": 1}, "metadata"),
        ({"run_name": 1}, "run_name"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ]:
        with pytest.raises(rill.InvalidRequestError, match=match):
            step.invoke(1, config=bad)  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidRequestError, match="list of strings"):
        step.stream_events(1, include_names="double")
    with pytest.raises(rill.InvalidRequestError, match="list of inputs"):
        step.batch("abc")
    assert step.batch([]) == []
    run = step.stream_events(1, config={"run_id": "r1", "tags": ["t"], "metadata": {"m": 1}})
    first = next(iter(run))
    assert (first["run_id"], first["tags"], first["metadata"]) == ("r1", ["t"], {"m": 1})


async def test_abatch_edges() -> None:
    step = RunnableLambda(double)
    assert await step.abatch([]) == []
    assert [x async for x in step.abatch_as_completed([])] == []
    out = await RunnableLambda(fails_on_one).abatch([1, 2], return_exceptions=True)
    assert isinstance(out[0], ConnectionError) and out[1] == 2
    done = [
        x
        async for x in RunnableLambda(Flaky(1)).abatch_as_completed([1, 2], return_exceptions=True)
    ]
    assert len(done) == 2
    with pytest.raises(ConnectionError):
        async for _ in RunnableLambda(Flaky(5)).abatch_as_completed([1]):
            pass


def fails_on_one(x: int) -> int:
    if x == 1:
        raise ConnectionError("one")
    return x


def test_batch_as_completed_raises() -> None:
    with pytest.raises(ConnectionError):
        list(RunnableLambda(Flaky(5)).batch_as_completed([1, 2]))


# ------------------------------------------------------------------ prompts


def test_prompt_forms_and_errors() -> None:
    single = rill.prompt("Tell me about {topic}")
    assert single.input_variables == ["topic"]
    assert single.invoke("fish").to_string() == "Tell me about fish"  # one variable: the value
    assert single.format(topic="x").to_messages()[0].content == "Tell me about x"
    partial = rill.prompt([("human", "{a} {b}"), ("ai", "ok")]).partial(a="1")
    value = partial.invoke({"b": "2"})
    assert value.to_string() == "User: 1 2\nAssistant: ok"
    mixed = rill.prompt(
        [
            rill.Message("system", "fixed {not a variable}"),  # type: ignore[arg-type]
            {"role": "user", "content": "{q}"},
            "plain {q}",
            Placeholder("history", optional=True),
        ]
    )
    assert len(mixed.invoke({"q": "x"}).messages) == 3
    assert "input_variables" in repr(mixed)
    for bad, match in [
        (3, "string or a list"),
        ([], "at least one"),
        ([("placeholder", "history")], "placeholder"),
        ([("robot", "x")], "unknown role"),
        ([("user", 3)], "text must be a string"),
        ([3], "must be a"),
        ("{a.b}", "plain names"),
        ("{", "bad prompt"),
    ]:
        with pytest.raises(rill.InvalidRequestError, match=match):
            rill.prompt(bad)  # type: ignore[arg-type]
    with pytest.raises(rill.InvalidRequestError, match="takes a dict"):
        rill.prompt("{a} {b}").invoke("x")
    with pytest.raises(rill.InvalidRequestError, match="no messages"):
        rill.prompt([Placeholder("h", optional=True)]).invoke({})


# ------------------------------------------------------------------ parsers, merging


class Item(BaseModel):
    name: str


def test_parsers_on_whole_values_and_text() -> None:
    response = rill.GenerationResponse(content='{"name": "a"}')
    assert rill.TextParser().invoke(response) == '{"name": "a"}'
    assert rill.TextParser().invoke(rill.Message("assistant", "hi")) == "hi"  # type: ignore[arg-type]
    assert rill.JsonParser().invoke(response) == {"name": "a"}
    assert rill.JsonParser(diff=True).invoke('{"a": [1]}') == [
        {"op": "add", "path": "", "value": {}},
        {"op": "add", "path": "/a", "value": []},
        {"op": "add", "path": "/a/0", "value": 1},
    ]
    assert rill.PydanticParser(Item).invoke('{"name": "a"}') == Item(name="a")
    assert rill.ItemsParser(Item).invoke('{"items": [{"name": "a"}]}') == [Item(name="a")]
    with pytest.raises(rill.JsonStreamError, match="no JSON value"):
        list(rill.JsonParser().stream(""))
    with pytest.raises(rill.InvalidRequestError, match="reads text"):
        rill.TextParser().invoke(3)
    with pytest.raises(rill.InvalidRequestError, match="pydantic model"):
        rill.PydanticParser(dict)
    with pytest.raises(rill.JsonStreamError):
        rill.JsonParser().invoke('{"a": ')
    assert [
        repr(p) for p in (rill.TextParser(), rill.JsonParser(), rill.JsonParser(diff=True))
    ] == [
        "TextParser()",
        "JsonParser()",
        "JsonParser(diff=True)",
    ]
    assert "Item" in repr(rill.PydanticParser(Item)) and "Item" in repr(rill.ItemsParser(Item))


def test_json_parser_copies_big_integers() -> None:
    assert rill.JsonParser().invoke('{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }


def test_merge_values() -> None:
    assert merge_values([]) is None
    assert merge_values([{"a": "x"}, {"a": "y", "b": 1}]) == {"a": "xy", "b": 1}
    assert merge_values([[1], [2]]) == [1, 2]
    assert merge_values([1, 2]) == 3
    assert merge_values([object, 2]) == 2  # values that do not add: the last stands
    chunks = [rill.StreamChunk(content="a"), rill.StreamChunk(content="b", index=1)]
    with pytest.raises(rill.InvalidRequestError, match="do not merge"):
        merge_values(chunks)


async def test_bad_input_is_an_error_at_the_call() -> None:
    chat = rill.ChatModel("openai/m", api_key="k")
    chain = rill.prompt("{q}") | chat
    for call in (
        lambda: chat.stream(5),
        lambda: chat.astream(5),
        lambda: chain.stream({"nope": 1}),
        lambda: chain.astream_events({"nope": 1}),
        lambda: chain.with_retry().stream_events({"nope": 1}),
        lambda: RunnableParallel(a=chain).stream({"nope": 1}),
    ):
        with pytest.raises(rill.InvalidRequestError):
            call()


DOC = '{"name": "Alex Chen", "facts": ["fact 1", "fact 2"], "n": 12, "ok": true}'


@given(st.sets(st.integers(1, len(DOC) - 1), max_size=25))
def test_json_parser_gives_the_document_however_the_text_is_split(cuts: set[int]) -> None:
    """Pieces that only close a string or a container (a lone quote or
    bracket) keep the parser and its assembled value in step."""
    bounds = [0, *sorted(cuts), len(DOC)]
    pieces = [DOC[a:b] for a, b in itertools.pairwise(bounds)]

    def split(_: object) -> Iterator[str]:
        yield from pieces

    outputs = list((rill.RunnableLambda(split) | rill.JsonParser()).stream(None))
    assert outputs[-1] == json.loads(DOC)
