"""``ModelRunnable`` is generic over the run type and the call functions: a
text-completion kind is a subclass that says how input becomes a prompt
and what a chunk is. Here one is built over ``generate_stream``."""

from __future__ import annotations

from typing import Any

import rill
from rill.runnables import ModelRunnable, PromptValue
from rill.testing import Emulator, Script

from .sse import openai_body


class TextModel(ModelRunnable[str]):
    run_type = "llm"
    stream_function = staticmethod(rill.generate_stream)
    astream_function = staticmethod(rill.agenerate_stream)

    def _prompt(self, input: Any) -> Any:
        return input.to_string() if isinstance(input, PromptValue) else input

    def _start_input(self, prompt: Any) -> Any:
        return {"prompts": [prompt]}

    def _chunk(self, chunk: rill.StreamChunk) -> str:
        return chunk.content

    def _output(self, response: rill.GenerationResponse) -> Any:
        return response.content


async def test_a_subclass_gets_its_own_run_type(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_body(openai_body(["a", "b"])))
    model = TextModel("openai/m", base_url=rill_emulator.base_url, api_key="k")
    chain = rill.prompt("{q}") | model
    events = [e async for e in chain.astream_events({"q": "x"})]
    mine = [e for e in events if e["name"] == "TextModel"]
    assert [e["event"] for e in mine] == [
        "on_llm_start",
        "on_llm_stream",
        "on_llm_stream",
        "on_llm_stream",
        "on_llm_end",
    ]
    assert mine[0]["data"] == {"input": {"prompts": ["x"]}}
    assert [e["data"]["chunk"] for e in mine[1:-1]] == ["a", "b", ""]
    assert mine[-1]["data"]["output"] == "ab"
    assert mine[0]["metadata"]["ls_model_type"] == "llm"
    rill_emulator.enqueue(Script.of_text("whole"))
    assert model.invoke("x") == "whole"
