"""``rill.LLM``: a text-completion model as a step, over ``/completions``.

Its stream yields ``str`` pieces and its events are LangChain's for LLMs
(``on_llm_*``), in the same order as langchain-core's for the same chain
over a fake LLM that emits the pieces rill received."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import anyio.to_thread
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM as LangChainLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import GenerationChunk
from langchain_core.prompts import PromptTemplate

import rill
from rill.testing import Emulator, Script

from .test_parity import shape

TEXT = "Bubbles rise in sparkling water"


class FakeLLM(LangChainLLM):
    """A LangChain LLM that streams the given pieces, one chunk each."""

    pieces: list[str]

    @property
    def _llm_type(self) -> str:
        return "fake"

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
        return "".join(self.pieces)

    def _stream(
        self,
        prompt: str,
        stop: Any = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kw: Any,
    ) -> Iterator[GenerationChunk]:
        for piece in self.pieces:
            chunk = GenerationChunk(text=piece)
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def llm(emu: Emulator, **kw: Any) -> rill.LLM:
    return rill.LLM("openai/gpt-3.5-turbo-instruct", base_url=emu.base_url, api_key="k", **kw)


def test_stream_yields_strings_and_invoke_the_text(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT), Script.of_text(TEXT))
    model = llm(rill_emulator, temperature=0, max_tokens=64)
    pieces = list(model.stream("Write me a verse about sparkling water."))
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == TEXT
    assert model.invoke("again") == TEXT
    sent = rill_emulator.requests[-1]
    assert sent.path == "/v1/completions"
    assert sent.params["prompt"] == "again" and sent.params["max_tokens"] == 64


async def test_astream_and_a_prompt_value(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    chain = rill.prompt("Say {what}") | llm(rill_emulator)
    assert "".join([p async for p in chain.astream({"what": "fizz"})]) == TEXT
    assert rill_emulator.requests[-1].params["prompt"] == "Say fizz"


def langchain_events(chain: Any, version: str) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [e async for e in chain.astream_events({"topic": "fish"}, version=version)]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LangChain marks v1 deprecated
        return asyncio.run(collect())


@pytest.mark.parametrize("version", ["v2", "v1"])
async def test_events_match_langchain_for_an_llm_chain(
    rill_emulator: Emulator, version: Literal["v1", "v2"]
) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT))
    chain = rill.prompt("Tell me about {topic}") | llm(rill_emulator) | rill.TextParser()
    ours = [e async for e in chain.astream_events({"topic": "fish"}, version=version)]
    pieces = [e["data"]["chunk"] for e in ours if e["event"] == "on_llm_stream"]
    assert "".join(pieces) == TEXT
    lc = PromptTemplate.from_template("Tell me about {topic}") | FakeLLM(pieces=pieces)
    theirs = await anyio.to_thread.run_sync(langchain_events, lc | StrOutputParser(), version)

    assert shape(ours) == shape(theirs)
    start = next(e for e in ours if e["event"] == "on_llm_start")
    assert start["data"]["input"] == {"prompts": ["Tell me about fish"]}
    assert ours[-1]["data"]["output"] == theirs[-1]["data"]["output"] == TEXT


def test_through_a_client_the_second_call_is_a_cache_hit(rill_emulator: Emulator) -> None:
    client = rill.Client(cache=rill.MemoryCache())
    rill_emulator.enqueue(Script.of_text(TEXT))
    model = llm(rill_emulator, client=client)
    assert model.invoke("x") == TEXT
    assert "".join(model.stream("x")) == TEXT  # replayed: no second request
    assert len(rill_emulator.requests) == 1


def test_chat_model_calls_go_through_its_client(rill_emulator: Emulator) -> None:
    client = rill.Client(cache=rill.MemoryCache())
    rill_emulator.enqueue(Script.of_text(TEXT))
    chat = rill.ChatModel("openai/m", base_url=rill_emulator.base_url, api_key="k", client=client)
    assert chat.invoke("x").content == TEXT
    again: Any = chat.invoke("x")  # the GenerationResponse
    assert again.content == TEXT and again.cached
    assert len(rill_emulator.requests) == 1


def test_bad_configuration_is_an_error_at_the_call(rill_emulator: Emulator) -> None:
    with pytest.raises(rill.InvalidRequestError, match="one completion"):
        llm(rill_emulator, n=2)
    with pytest.raises(rill.InvalidRequestError):
        llm(rill_emulator, tools=[])  # a chat-only parameter
    with pytest.raises(rill.ConfigurationError, match="anthropic"):
        rill.LLM("anthropic/claude-3-haiku-20240307").invoke("x")
    with pytest.raises(rill.InvalidRequestError, match="string or a PromptValue"):
        llm(rill_emulator).invoke([{"role": "user", "content": "x"}])
    with pytest.raises(rill.InvalidRequestError, match="complete_stream"):
        llm(rill_emulator, client=object())
