"""Conformance on the recorded corpus: every OpenAI Chat Completions and
OpenAI-compatible body is served over real HTTP and decoded by rill; the result
must equal what the official ``openai`` SDK accumulates from the same bytes
(its ``ChatCompletionStreamState``, which ``chat.completions.stream()`` uses).

Compared per choice: content, reasoning (the SDK keeps ``reasoning_content`` /
``reasoning`` as extra fields, concatenated), refusal, tool calls (id, name,
arguments), finish reason, logprobs; and usage. Where the SDK is wrong on a
recording, the expected value was checked by hand and is written down below.

Also: splitting a body into network chunks anywhere gives the same chunks and
the same response (hypothesis, sans-IO, no server needed).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState

import rill
from rill import GenerationResponse
from rill.providers import OpenAIChatCodec
from rill.testing import Emulator, Script

from .conftest import wire_files
from .decoding import call, decode_split

BODIES = wire_files("openai-chat") + wire_files("openai-compat")
IDS = [p.name for p in BODIES]


def choices_for(path: Path) -> int:
    return 3 if "n3" in path.name else 1


# Recordings on which the SDK's accumulation is wrong, with what rill gives instead.
SDK_WRONG: dict[str, str] = {
    # Kimi via OpenRouter repeats id and name on every fragment of one call; the
    # SDK concatenates them ("00", "llm_versionllm_version").
    "openrouter-kimi-noarg-tool-a.sse": "tool_calls",
    # Magistral sends content as typed parts; the SDK concatenates the lists
    # (with pydantic warnings) and has no reasoning; rill splits thinking parts out.
    "mistral-magistral-thinking.sse": "content",
    # A chunk after the usage chunk says "usage": null; the SDK overwrites the
    # reported usage with it, rill keeps what was reported.
    "pai-gpt5-moderation.sse": "usage",
}
# Bodies that end in a provider error: both must fail, rill with the partial.
ERRORS = {"groq-midstream-error-event.sse", "openrouter-comments-error-chunk.sse"}


def sdk_accumulate(emu: Emulator, body: bytes, n: int) -> Any:
    emu.enqueue(Script.of_body(body))
    client = openai.OpenAI(base_url=emu.base_url, api_key="test", max_retries=0)
    state = ChatCompletionStreamState()
    with warnings.catch_warnings(), client:
        warnings.simplefilter("ignore")  # pydantic complains about list content
        for chunk in client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], n=n, stream=True
        ):
            state.handle_chunk(chunk)
        return state.current_completion_snapshot


def rill_generate(emu: Emulator, body: bytes, n: int) -> GenerationResponse:
    emu.enqueue(Script.of_body(body))
    return rill.generate("x", model="vllm/m", base_url=emu.base_url, n=n)


def sdk_view(completion: Any) -> list[dict[str, Any]]:
    out = []
    for choice in completion.choices:
        message = choice.message
        extra = message.model_extra or {}
        logprobs = None
        if choice.logprobs is not None:
            tokens = choice.logprobs.content or choice.logprobs.refusal
            logprobs = [t.model_dump() for t in tokens] if tokens else None
        out.append(
            {
                "content": message.content or "",
                "reasoning": extra.get("reasoning_content") or extra.get("reasoning") or "",
                "refusal": message.refusal or "",
                "tool_calls": [
                    (t.id, t.function.name, t.function.arguments) for t in message.tool_calls or ()
                ],
                "finish_reason": choice.finish_reason,
                "logprobs": logprobs,
            }
        )
    return out


def rill_view(response: GenerationResponse) -> list[dict[str, Any]]:
    return [
        {
            "content": c.content,
            "reasoning": c.reasoning,
            "refusal": c.refusal,
            "tool_calls": [(t.id, t.name, t.arguments) for t in c.tool_calls],
            "finish_reason": c.finish_reason,
            "logprobs": c.logprobs,
        }
        for c in response.choices
    ]


@pytest.fixture(scope="module")
def emulator() -> Any:
    with Emulator() as emu:
        yield emu


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
def test_matches_the_openai_sdk(emulator: Emulator, path: Path) -> None:
    body, n = path.read_bytes(), choices_for(path)
    if path.name in ERRORS:
        with pytest.raises(openai.APIError):
            sdk_accumulate(emulator, body, n)
        with pytest.raises(rill.ProviderStreamError) as info:
            rill_generate(emulator, body, n)
        assert info.value.partial is not None
        assert info.value.partial.reasoning  # what arrived before the error is kept
        return
    sdk = sdk_accumulate(emulator, body, n)
    response = rill_generate(emulator, body, n)
    expected, got = sdk_view(sdk), rill_view(response)
    wrong = SDK_WRONG.get(path.name)
    if wrong == "tool_calls":
        assert got[0]["tool_calls"] == [("0", "llm_version", "{}")]
        expected[0]["tool_calls"] = got[0]["tool_calls"]
    if wrong == "content":
        assert got[0]["content"].startswith("To cross the street safely")
        assert got[0]["reasoning"].startswith("Okay, the user is asking")
        assert "thinking" not in got[0]["content"]
        expected[0]["content"], expected[0]["reasoning"] = got[0]["content"], got[0]["reasoning"]
    assert got == expected
    usage = response.usage
    if sdk.usage is not None:
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
            sdk.usage.prompt_tokens,
            sdk.usage.completion_tokens,
            sdk.usage.total_tokens,
        )
        assert not usage.estimated
        details = sdk.usage.completion_tokens_details
        assert usage.reasoning_tokens == ((details and details.reasoning_tokens) or 0)
    elif wrong == "usage":
        assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (13, 11, False)
    else:
        assert usage.estimated  # nothing reported: rill counted
    if sdk.model:  # Azure's first chunk has model "", which the SDK keeps
        assert response.model == sdk.model


@pytest.mark.shared
def test_groq_usage_inside_x_groq(emulator: Emulator) -> None:
    [path] = [p for p in BODIES if p.name == "groq-tool-call-reasoning.sse"]
    usage = rill_generate(emulator, path.read_bytes(), 1).usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (304, 49, 23)


@pytest.mark.shared
def test_azure_filter_chunk_is_not_usage(emulator: Emulator) -> None:
    [path] = [p for p in BODIES if p.name.startswith("azure-prompt-filter")]
    emulator.enqueue(Script.of_body(path.read_bytes()))
    stream = rill.generate_stream("x", model="vllm/m", base_url=emulator.base_url)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert stream.response.usage.estimated
    assert stream.response.model == "gpt-35-turbo" and stream.response.id


# ---------------------------------------------------------------- byte splits


def decode(body: bytes, cuts: list[int], n: int) -> tuple[list[Any], Any]:
    return decode_split(OpenAIChatCodec().stream_decoder(call(n=n)), body, cuts)


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(path: Path, data: st.DataObject) -> None:
    body, n = path.read_bytes(), choices_for(path)
    whole = decode(body, [], n)
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    assert decode(body, cuts, n) == whole
    one_byte_at_a_time_near = data.draw(st.integers(0, max(0, len(body) - 64)))
    fine = list(range(one_byte_at_a_time_near, min(len(body), one_byte_at_a_time_near + 64)))
    assert decode(body, fine, n) == whole
