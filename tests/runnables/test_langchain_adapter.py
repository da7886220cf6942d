"""rill.langchain.ChatRill inside a LangChain chain, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from rill.langchain import ChatRill
from rill.testing import Emulator, Script

from .sse import openai_body


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_chatrill_streams_through_a_langchain_chain(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(openai_body(["Gold", "fish"])))
    chat = ChatRill(model="openai/gpt-4o-mini", base_url=emu.base_url, api_key="k", temperature=0)
    chain = ChatPromptTemplate.from_template("About {topic}") | chat | StrOutputParser()
    assert [t for t in chain.stream({"topic": "fish"}) if t] == ["Gold", "fish"]
    assert emu.requests[-1].params["temperature"] == 0
    emu.enqueue(Script.of_text("whole"))
    assert chain.invoke({"topic": "fish"}) == "whole"


async def test_chatrill_astream_events(emu: Emulator) -> None:
    import anyio.to_thread

    emu.enqueue(Script.of_body(openai_body(["a", "b"])))
    chat = ChatRill(model="openai/gpt-4o-mini", base_url=emu.base_url, api_key="k")

    def run() -> list[str]:
        import asyncio

        async def collect() -> list[str]:
            return [e["event"] async for e in chat.astream_events("hi", version="v2")]

        return asyncio.run(collect())

    kinds = await anyio.to_thread.run_sync(run)
    assert kinds[0] == "on_chat_model_start" and kinds[-1] == "on_chat_model_end"
    assert kinds.count("on_chat_model_stream") >= 2


def test_chatrill_tools_round_trip(emu: Emulator) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from pydantic import BaseModel

    from rill.testing import ScriptedToolCall

    class GetWeather(BaseModel):
        """Weather in a city."""

        city: str

    emu.enqueue(Script.of_tool_calls([ScriptedToolCall("GetWeather", {"city": "Paris"}, id="c1")]))
    chat = ChatRill(model="openai/gpt-4o-mini", base_url=emu.base_url, api_key="k")
    asked = chat.bind_tools([GetWeather]).invoke("weather in Paris?")
    assert asked.tool_calls[0]["name"] == "GetWeather"
    assert asked.tool_calls[0]["args"] == {"city": "Paris"}
    assert emu.requests[-1].params["tools"][0]["function"]["name"] == "GetWeather"
    emu.enqueue(Script.of_text("Sunny"))
    answer = chat.invoke([HumanMessage("weather?"), asked, ToolMessage("sunny", tool_call_id="c1")])
    assert answer.content == "Sunny"
    sent = emu.requests[-1].params["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "c1" and sent[2]["tool_call_id"] == "c1"
