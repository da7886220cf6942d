"""rill's events against LangChain's: the same chain shapes, the same chunks
from the model, the same events in the same order (event, run type, depth,
parent chain, step tags), for v1 and v2, and the same filtering.

rill's chains talk to the emulator over HTTP; LangChain's run over a fake
chat model that emits exactly the chunks rill received."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import anyio.to_thread
import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, FakeMessagesListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

import rill
from rill.providers import get_provider
from rill.testing import Emulator, Script

from .sse import openai_body

# rill's names and LangChain's for the same steps.
KIND = {
    "RunnableSequence": "sequence",
    "PromptTemplate": "prompt",
    "ChatPromptTemplate": "prompt",
    "ChatModel": "model",
    "LLM": "model",
    "FakeLLM": "model",
    "FakeChat": "model",
    "FakeMessagesListChatModel": "model",
    "TextParser": "text",
    "StrOutputParser": "text",
    "JsonParser": "json",
    "JsonOutputParser": "json",
    "RunnableParallel<text,n>": "parallel",
    "count": "count",
}


class FakeChat(BaseChatModel):
    """A LangChain chat model that streams the given pieces, one chunk each."""

    pieces: list[str]

    @property
    def _llm_type(self) -> str:
        return "fake"

    def _chunks(self) -> list[ChatGenerationChunk]:
        # The last chunk is marked last, as a real provider's finish chunk
        # is; otherwise LangChain appends an empty chunk of its own.
        return [
            ChatGenerationChunk(
                message=AIMessageChunk(
                    content=piece, chunk_position="last" if i == len(self.pieces) - 1 else None
                )
            )
            for i, piece in enumerate(self.pieces)
        ]

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kw: Any) -> ChatResult:  # type: ignore[override]
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(self.pieces)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: Any = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kw: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks():
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: Any = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kw: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks():
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


def count(message: Any) -> int:
    return len(message.content)


def shape(events: list[dict[str, Any]], *, chains: bool = True) -> list[tuple[Any, ...]]:
    """What must match: (event, run type, step, parent chain, tags) per
    event, with each library's step names mapped to one vocabulary. The
    parent chain is the parents' steps, root first (its length is the
    depth); without ``chains`` (filtered events, whose parents may be
    filtered out), just the depth."""
    kind_of = {e["run_id"]: KIND[e["name"]] for e in events if e["event"].endswith("_start")}
    out = []
    for e in events:
        run_type = e["event"].split("_", 1)[1].rsplit("_", 1)[0]
        parents = e["parent_ids"]
        chain: Any = tuple(kind_of[p] for p in parents) if chains else len(parents)
        out.append((e["event"], run_type, KIND[e["name"]], chain, tuple(e["tags"])))
    return out


def per_run(events: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[str]]:
    """Each run's own events in order: what parallel branches must agree on
    (how two branches interleave is up to the scheduler, in LangChain too)."""
    runs: dict[tuple[Any, ...], list[str]] = {}
    for item in shape(events):
        runs.setdefault((item[2], item[3], item[4]), []).append(item[0])
    return runs


def langchain_events(chain: Any, version: str, **filters: Any) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [
            e async for e in chain.astream_events({"topic": "fish"}, version=version, **filters)
        ]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LangChain marks v1 deprecated
        return asyncio.run(collect())


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def whole_provider(emulator: Emulator) -> str:
    rill.register_provider(
        replace(
            get_provider("vllm"), name="emu-whole", streaming=False, base_url=emulator.base_url
        ),
        replace=True,
    )
    return "emu-whole/m"


TEXT = ["hello", " big", " world"]
JSON = ['{"name": "gold', 'fish", "facts": ["swi', 'ms", "glows"', "]}"]


def rill_chain(which: str, emulator: Emulator, whole: str) -> Any:
    chat = rill.ChatModel("openai/m", base_url=emulator.base_url, api_key="k")
    template = rill.prompt("Tell me about {topic}")
    if which == "text":
        return template | chat | rill.TextParser()
    if which == "json":
        return template | chat | rill.JsonParser()
    if which == "parallel":
        return template | chat | {"text": rill.TextParser(), "n": count}
    nonstreaming = rill.ChatModel(whole, base_url=emulator.base_url)
    return template | nonstreaming | rill.TextParser()


def lc_chain(which: str, pieces: list[str]) -> Any:
    template = ChatPromptTemplate.from_template("Tell me about {topic}")
    chat = FakeChat(pieces=pieces)
    if which == "text":
        return template | chat | StrOutputParser()
    if which == "json":
        return template | chat | JsonOutputParser()
    if which == "parallel":
        return template | chat | {"text": StrOutputParser(), "n": RunnableLambda(count)}
    whole = FakeMessagesListChatModel(responses=[AIMessage("".join(pieces))])
    return template | whole | StrOutputParser()


def script_for(which: str) -> Script:
    if which == "json":
        return Script.of_body(openai_body(JSON))
    if which == "nonstreaming":
        return Script.of_text("".join(TEXT))
    return Script.of_body(openai_body(TEXT))


async def rill_events(
    which: str, version: str, emulator: Emulator, whole: str, **filters: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    emulator.enqueue(script_for(which))
    chain = rill_chain(which, emulator, whole)
    events = [e async for e in chain.astream_events({"topic": "fish"}, version=version, **filters)]
    pieces = [
        e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"
    ] or TEXT
    return events, pieces


@pytest.mark.parametrize("version", ["v2", "v1"])
@pytest.mark.parametrize("which", ["text", "json", "nonstreaming"])
async def test_events_match_langchain(
    which: str, version: str, emulator: Emulator, whole_provider: str
) -> None:
    ours, pieces = await rill_events(which, version, emulator, whole_provider)
    theirs = await anyio.to_thread.run_sync(langchain_events, lc_chain(which, pieces), version)
    assert shape(ours) == shape(theirs)

    # The parsers' output chunks agree too.
    def parsed(events: list[dict[str, Any]]) -> list[Any]:
        return [e["data"]["chunk"] for e in events if e["event"] == "on_parser_stream"]

    assert parsed(ours) == parsed(theirs)
    assert ours[-1]["data"]["output"] == theirs[-1]["data"]["output"]
    if version == "v1":  # v1 has no run tree
        assert all(e["parent_ids"] == [] for e in ours)


@pytest.mark.parametrize("version", ["v2", "v1"])
async def test_parallel_branch_events_match_langchain(
    version: str, emulator: Emulator, whole_provider: str
) -> None:
    ours, pieces = await rill_events("parallel", version, emulator, whole_provider)
    theirs = await anyio.to_thread.run_sync(langchain_events, lc_chain("parallel", pieces), version)
    assert per_run(ours) == per_run(theirs)
    assert sorted(shape(ours)) == sorted(shape(theirs))
    assert ours[-1]["data"]["output"] == theirs[-1]["data"]["output"]
    # Causality: a run starts after its parent and ends before it.
    for events in (ours, theirs):
        position = {(e["run_id"], e["event"].rsplit("_", 1)[1]): i for i, e in enumerate(events)}
        for e in events:
            for parent in e.get("parent_ids") or ():
                assert position[(parent, "start")] < position[(e["run_id"], "start")]
                assert position[(e["run_id"], "end")] < position[(parent, "end")]


FILTERS: list[dict[str, Any]] = [
    {"include_types": ["chat_model", "parser"]},
    {"include_names": ["RunnableSequence"]},
    {"include_tags": ["seq:step:3"]},
    {"exclude_types": ["prompt"], "exclude_tags": ["seq:step:2"]},
    {"include_types": ["parser", "chat_model"], "exclude_tags": ["seq:step:3"]},
]


@pytest.mark.parametrize("filters", FILTERS)
async def test_filters_match_langchain(
    filters: dict[str, Any], emulator: Emulator, whole_provider: str
) -> None:
    # Names differ between the libraries: filter on rill's, map to LangChain's.
    lc_names = {"RunnableSequence": "RunnableSequence"}
    lc_filters = {
        k: [lc_names.get(v, v) for v in vals] if k.endswith("names") else vals
        for k, vals in filters.items()
    }
    ours, _ = await rill_events("text", "v2", emulator, whole_provider, **filters)
    pieces = [*TEXT, ""]  # and the chunk that carries finish_reason
    theirs = await anyio.to_thread.run_sync(
        lambda: langchain_events(lc_chain("text", pieces), "v2", **lc_filters)
    )
    assert shape(ours, chains=False) == shape(theirs, chains=False)
    assert ours, "each filter lets something through"


CUSTOM_FILTERS: list[dict[str, Any]] = [
    {},
    {"include_types": ["chain"]},
    {"include_names": ["note"]},
    {"include_types": ["custom"]},
    {"exclude_types": ["chain"]},
    {"include_tags": ["T"]},
    {"include_tags": ["seq:step:1"]},
    {"exclude_tags": ["T"]},
]


@pytest.mark.parametrize("filters", CUSTOM_FILTERS)
async def test_custom_events_and_their_filters_match_langchain(filters: dict[str, Any]) -> None:
    from langchain_core.callbacks.manager import adispatch_custom_event

    async def lc_step(x: int) -> int:
        await adispatch_custom_event("note", {"x": x})
        return x

    def step(x: int) -> int:
        rill.dispatch_event("note", {"x": x})
        return x

    def same(x: int) -> int:
        return x

    KIND.update({"lc_step": "step", "step": "step", "same": "same", "note": "note"})
    lc = (RunnableLambda(lc_step) | RunnableLambda(same)).with_config(tags=["T"])
    ours = (rill.RunnableLambda(step) | same).with_config(tags=["T"])

    def theirs() -> list[dict[str, Any]]:
        async def collect() -> list[dict[str, Any]]:
            return [dict(e) async for e in lc.astream_events(1, version="v2", **filters)]

        return asyncio.run(collect())

    expected = await anyio.to_thread.run_sync(theirs)
    got = [e async for e in ours.astream_events(1, **filters)]
    assert shape(got, chains=False) == shape(expected, chains=False)
    # (LangChain later writes an "input" key into the dict the step passed.)
    assert [e["data"]["x"] for e in got if e["event"] == "on_custom_event"] == [
        e["data"]["x"] for e in expected if e["event"] == "on_custom_event"
    ]
