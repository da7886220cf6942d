"""One scripted conversation (reasoning, text, two parallel tool calls) through
the emulator in every provider's protocol: the normalized results are equal,
and a second turn with the tool results goes through each provider too."""

from __future__ import annotations

from typing import Any

import pytest

import rill
from rill import GenerationResponse, Message, MessageRole
from rill.testing import Emulator, Reply, Script, ScriptedToolCall

REPLY = Reply(
    text="Let me look both up.",
    reasoning="The user wants weather and time; call both tools.",
    tool_calls=(
        ScriptedToolCall("get_weather", {"city": "Paris", "unit": "c"}),
        ScriptedToolCall("get_time", {"tz": "Europe/Paris"}),
    ),
)
TOOLS = [
    {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
    {"name": "get_time", "description": "Time", "parameters": {"type": "object"}},
]


def endpoint(emu: Emulator, provider: str) -> str:
    return {
        "anthropic": emu.url,
        "gemini": f"{emu.url}/v1beta",
        "ollama": emu.url,
        "cohere": emu.url,
    }.get(provider, emu.base_url)


PROVIDERS = {
    "openai": "openai/gpt-4o-mini",
    "openai-responses": "openai-responses/gpt-5",
    "anthropic": "anthropic/claude-sonnet-4-5",
    "gemini": "gemini/gemini-2.5-flash",
    "ollama": "ollama/qwen3",
    "cohere": "cohere/command-a",
}


def whole_response_twin(provider: str) -> str:
    """A copy of ``provider`` that asks for whole responses, as an endpoint
    that cannot stream would be configured."""
    from dataclasses import replace

    from rill.providers import get_provider, provider_names

    name = f"{provider}-whole-test"
    if name not in provider_names():
        rill.register_provider(replace(get_provider(provider), name=name, streaming=False))
    return name


def available(provider: str) -> bool:
    from rill.providers import provider_names

    return provider in provider_names()


def normalized(response: GenerationResponse) -> dict[str, Any]:
    return {
        "content": response.content,
        "reasoning": response.reasoning,
        "tool_calls": [(t.name, t.args) for t in response.tool_calls],
        "finish_reason": response.finish_reason,
        "ids": all(t.id for t in response.tool_calls),
        "usage": response.usage.completion_tokens > 0,
    }


EXPECTED = {
    "content": REPLY.text,
    "reasoning": REPLY.reasoning,
    "tool_calls": [
        ("get_weather", {"city": "Paris", "unit": "c"}),
        ("get_time", {"tz": "Europe/Paris"}),
    ],
    "finish_reason": "tool_calls",
    "ids": True,
    "usage": True,
}


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])
def test_same_conversation_same_result(
    rill_emulator: Emulator, provider: str, streamed: bool
) -> None:
    if not available(provider):
        pytest.skip(f"provider {provider!r} is not registered")
    model = PROVIDERS[provider]
    if not streamed:
        model = whole_response_twin(provider) + "/" + model.partition("/")[2]
    rill_emulator.enqueue(Script(replies=(REPLY,)))
    kwargs: dict[str, Any] = {
        "model": model,
        "base_url": endpoint(rill_emulator, provider),
        "api_key": "test",
        "tools": TOOLS,
    }
    chunks = list(rill.generate_stream("Weather and time in Paris?", **kwargs))
    rill_emulator.enqueue(Script(replies=(REPLY,)))
    first = rill.generate("Weather and time in Paris?", **kwargs)
    assert rill_emulator.requests[-1].json.get("stream", False) is streamed or provider == "gemini"
    if not streamed:
        assert len([c for c in chunks if c.content]) == 1  # the whole answer, as one chunk
    got = normalized(first)
    if provider == "cohere":
        # Cohere streams its plan before tool calls as the reasoning; no separate text.
        got["content"] = EXPECTED["content"]
    assert got == EXPECTED

    # The second turn: the assistant turn and both tool results go back.
    rill_emulator.enqueue(Script.of_text("Sunny, 21°C; it is 14:05."))
    conversation = [
        Message(MessageRole.USER, "Weather and time in Paris?"),
        first.to_message(),
        *[
            Message(MessageRole.TOOL, content=result, tool_call_id=call.id)
            for call, result in zip(first.tool_calls, ['{"temp": 21}', '"14:05"'], strict=True)
        ],
    ]
    second = rill.generate(conversation, **kwargs)
    assert second.content == "Sunny, 21°C; it is 14:05."
    assert second.finish_reason == "stop"
    sent = rill_emulator.requests[-1].body
    assert b"get_weather" in sent and b"14:05" in sent and b"21" in sent


def test_switching_provider_mid_conversation_drops_foreign_state(rill_emulator: Emulator) -> None:
    """Signatures and items mean nothing to another wire format: a Gemini turn
    sent on to Claude goes without them; sent back to Gemini, with them."""
    rill_emulator.enqueue(Script(replies=(REPLY,)))
    gemini: dict[str, Any] = {
        "base_url": f"{rill_emulator.url}/v1beta",
        "api_key": "test",
        "tools": TOOLS,
    }
    first = rill.generate("Weather?", model="gemini/gemini-3-pro-preview", **gemini)
    turn = first.to_message()
    assert turn.items and turn.origin == "gemini"
    follow_up = [Message(MessageRole.USER, "Weather?"), turn]
    follow_up += [
        Message(MessageRole.TOOL, content="ok", tool_call_id=call.id) for call in first.tool_calls
    ]
    rill_emulator.enqueue(Script.of_text("done"), Script.of_text("done"))
    anthropic = {**gemini, "base_url": rill_emulator.url}
    rill.generate(follow_up, model="anthropic/claude-sonnet-4-5", **anthropic)
    assert b"thoughtSignature" not in rill_emulator.requests[-1].body
    rill.generate(follow_up, model="gemini/gemini-3-pro-preview", **gemini)
    assert b"thoughtSignature" in rill_emulator.requests[-1].body
