"""Conformance on the recorded Anthropic corpus: every Messages stream is served
over real HTTP and decoded by rill; the result must equal what the official
``anthropic`` SDK accumulates from the same bytes
(``messages.stream(...).get_final_message()``).

Compared: text (the text blocks concatenated), thinking (concatenated) and the
last signature, tool calls (id, name, parsed input), the native stop reason,
usage (input, output, cache and thinking counts), id and model, and the
blocks rill keeps in ``items`` (every block but text and client tool calls,
plus cited text blocks) against the SDK's blocks. Where the SDK keeps a
different view, the test says so and checks a hand-verified value.

Also: splitting a body into network chunks anywhere gives the same chunks and
the same response (hypothesis, sans-IO, no server needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import jiter
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rill
from rill import GenerationResponse, Message, MessageRole
from rill.providers import Call, get_provider
from rill.testing import Emulator, Script

from ..conftest import wire_files
from ..decoding import call, decode_split

BODIES = wire_files("anthropic")
IDS = [p.name for p in BODIES]

# Cut off by max_tokens inside a tool call's input: the SDK shows a partial
# parse of the JSON so far (the unfinished string dropped); rill keeps the text
# that arrived, whose partial parse is the SDK's value.
PARTIAL_TOOL = "an-maxtokens-partial-tool-json.sse"
PARTIAL_ARGUMENTS = (
    '{"filename": "taxes.txt", "lines_of_text": [\n'
    '"# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s",\n"",\n'
    '"## INTRODUCTION",\n"",\n"Filing taxes'
)


@pytest.fixture(scope="module")
def emulator() -> Any:
    with Emulator() as emu:
        yield emu


def sdk_final(emu: Emulator, body: bytes) -> Any:
    emu.enqueue(Script.of_body(body))
    with (
        anthropic.Anthropic(base_url=emu.url, api_key="test", max_retries=0) as client,
        client.messages.stream(
            model="m", max_tokens=64, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        return stream.get_final_message()


def rill_generate(emu: Emulator, body: bytes) -> GenerationResponse:
    emu.enqueue(Script.of_body(body))
    return rill.generate("x", model="anthropic/m", base_url=emu.url, api_key="test")


def sdk_view(message: Any) -> dict[str, Any]:
    blocks = message.content
    thinking = [b for b in blocks if b.type == "thinking"]
    usage = message.usage
    details = getattr(usage, "output_tokens_details", None)
    cache_read = usage.cache_read_input_tokens or 0
    return {
        "content": "".join(b.text for b in blocks if b.type == "text"),
        "reasoning": "".join(b.thinking for b in thinking),
        "signature": thinking[-1].signature if thinking else None,
        "tool_calls": [(b.id, b.name, b.input) for b in blocks if b.type == "tool_use"],
        "stop_reason": message.stop_reason,
        "usage": (
            usage.input_tokens + cache_read + (usage.cache_creation_input_tokens or 0),
            usage.output_tokens,
            cache_read,
            (details.thinking_tokens if details else 0) or 0,
        ),
        "id": message.id,
        "model": message.model,
        "items": [
            b.to_dict()
            for b in blocks
            if b.type != "tool_use" and (b.type != "text" or b.citations)
        ],
    }


def rill_view(response: GenerationResponse) -> dict[str, Any]:
    usage = response.usage
    return {
        "content": response.content,
        "reasoning": response.reasoning,
        "signature": response.reasoning_signature,
        "tool_calls": [(t.id, t.name, t.args) for t in response.tool_calls],
        "stop_reason": response.native_finish_reason,
        "usage": (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.reasoning_tokens,
        ),
        "id": response.id,
        "model": response.model,
        "items": response.items,
    }


FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


@pytest.mark.shared
def test_the_corpus_is_there() -> None:
    assert len(BODIES) >= 20


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
def test_matches_the_anthropic_sdk(emulator: Emulator, path: Path) -> None:
    body = path.read_bytes()
    expected = sdk_view(sdk_final(emulator, body))
    response = rill_generate(emulator, body)
    got = rill_view(response)
    if path.name == PARTIAL_TOOL:
        [call] = response.tool_calls
        assert call.arguments == PARTIAL_ARGUMENTS and call.args is None
        assert (
            jiter.from_json(call.arguments.encode(), partial_mode=True)
            == (expected["tool_calls"][0][2])
        )
        got["tool_calls"] = expected["tool_calls"]
    assert got == expected
    assert response.finish_reason == FINISH[expected["stop_reason"]]
    assert not response.usage.estimated
    assert response.usage.total_tokens == sum(expected["usage"][:2])


@pytest.mark.shared
def test_usage_of_message_delta_replaces_that_of_message_start(emulator: Emulator) -> None:
    [path] = wire_files("anthropic", "pai-an-code-exec-thinking.sse")
    emulator.enqueue(Script.of_body(path.read_bytes()))
    stream = rill.generate_stream("x", model="anthropic/m", base_url=emulator.url, api_key="k")
    reported = [c.usage.prompt_tokens for c in stream if c.usage is not None]
    assert reported == [2293, 4714]  # message_start, then message_delta's cumulative count
    assert stream.response.usage.completion_tokens == 304


@pytest.mark.shared
def test_tool_calls_are_numbered_among_tool_calls(emulator: Emulator) -> None:
    [path] = wire_files("anthropic", "pai-an-tool-search-tool-use.sse")
    emulator.enqueue(Script.of_body(path.read_bytes()))
    chunks = list(
        rill.generate_stream("x", model="anthropic/m", base_url=emulator.url, api_key="k")
    )
    deltas = [d for c in chunks for d in c.tool_calls]
    assert {d.index for d in deltas} == {0}  # content block 4, the first client tool call
    first = deltas[0]
    assert (first.id, first.name) == ("toolu_01EFn5wTNBYA8Reni8rbmnHT", "get_exchange_rate")
    # The server tool call arrives once, whole, with its input assembled.
    [server] = [i for c in chunks for i in c.items if i["type"] == "server_tool_use"]
    assert server["input"] == {"query": "USD EUR exchange rate currency conversion"}


@pytest.mark.shared
def test_thinking_round_trips_through_to_message(emulator: Emulator) -> None:
    [path] = wire_files("anthropic", "llma-haiku45-thinking-then-tool.sse")
    response = rill_generate(emulator, path.read_bytes())
    message = response.to_message()
    assert message.reasoning_signature == response.reasoning_signature
    body = get_provider("anthropic").codec.build_body(
        Call(
            model="claude-haiku-4-5",
            messages=(
                Message(MessageRole.USER, "x"),
                message,
                Message(MessageRole.TOOL, "1.0", tool_call_id=response.tool_calls[0].id),
            ),
        )
    )
    [thinking, tool_use] = body["messages"][1]["content"]
    assert thinking == {
        "type": "thinking",
        "thinking": response.reasoning,
        "signature": response.reasoning_signature,
    }
    assert tool_use == {
        "type": "tool_use",
        "id": "toolu_01825dXWLSoJwCst1qTsiWdb",
        "name": "fixed_version",
        "input": {},
    }


# ---------------------------------------------------------------- byte splits


def decode(body: bytes, cuts: list[int]) -> tuple[list[Any], Any]:
    return decode_split(get_provider("anthropic").codec.stream_decoder(call()), body, cuts)


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(path: Path, data: st.DataObject) -> None:
    body = path.read_bytes()
    whole = decode(body, [])
    assert whole[1][3], "every recording ends with message_stop"
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    assert decode(body, cuts) == whole
    near = data.draw(st.integers(0, max(0, len(body) - 64)))
    assert decode(body, list(range(near, min(len(body), near + 64)))) == whole
