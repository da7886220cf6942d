"""Text completions (``/completions``): conformance with the official ``openai``
SDK on every recorded body and on bodies written from the API reference
(several prompts, ``n``, logprobs, echo, suffix, vLLM's ``stop_reason``),
byte-split invariance, errors before and after the first text, the request
each call sends, and what is refused at the call.

The SDK is the oracle: ``completions.create(stream=True)`` reads the same
bytes from the emulator, and its chunks are accumulated here per choice
(text, finish reason, logprobs) the way its documentation describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rill
from rill import GenerationResponse
from rill.providers import OpenAICompletionsCodec
from rill.testing import Emulator, Fault, Reply, Script

from ..conftest import wire_files
from ..decoding import call, decode_split

RECORDED = [p for p in wire_files("openai-other") if "completions" in p.name]
IDS = [p.name for p in RECORDED]


@pytest.fixture(scope="module")
def emu() -> Any:
    with Emulator() as emulator:
        yield emulator


# ------------------------------------------------------------- the SDK's view


def sdk_accumulate(emu: Emulator, body: bytes, **params: Any) -> dict[str, Any]:
    """What the ``openai`` SDK's completions stream gives from ``body``,
    gathered per choice index: text, the last finish reason, the token
    logprobs (its four lists, concatenated), and the usage it saw."""
    emu.enqueue(Script.of_body(body))
    client = openai.OpenAI(base_url=emu.base_url, api_key="test", max_retries=0)
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    with client:
        for chunk in client.completions.create(model="m", prompt="x", stream=True, **params):
            assert chunk.object == "text_completion"
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                state = choices.setdefault(
                    choice.index, {"text": "", "finish_reason": None, "logprobs": None}
                )
                state["text"] += choice.text
                if choice.finish_reason is not None:
                    state["finish_reason"] = choice.finish_reason
                if choice.logprobs is not None and choice.logprobs.tokens:
                    lp = choice.logprobs
                    state["logprobs"] = (state["logprobs"] or []) + [
                        {
                            "token": token,
                            "logprob": lp.token_logprobs[i],
                            "top_logprobs": lp.top_logprobs[i],
                            "text_offset": lp.text_offset[i],
                        }
                        for i, token in enumerate(lp.tokens)
                    ]
    return {"choices": [choices[i] for i in sorted(choices)], "usage": usage}


def rill_view(response: GenerationResponse) -> list[dict[str, Any]]:
    return [
        {"text": c.content, "finish_reason": c.finish_reason, "logprobs": c.logprobs}
        for c in response.choices
    ]


def rill_complete(emu: Emulator, body: bytes, **params: Any) -> GenerationResponse:
    emu.enqueue(Script.of_body(body))
    return rill.complete("x", model="vllm/m", base_url=emu.base_url, **params)


def assert_matches_sdk(emu: Emulator, body: bytes, **params: Any) -> GenerationResponse:
    prompts = params.pop("prompts", None)
    sdk = sdk_accumulate(emu, body, **params)
    if prompts is not None:
        emu.enqueue(Script.of_body(body))
        response = rill.complete(prompts, model="vllm/m", base_url=emu.base_url, **params)
    else:
        response = rill_complete(emu, body, **params)
    assert rill_view(response) == sdk["choices"]
    assert response.content == sdk["choices"][0]["text"]
    if sdk["usage"] is not None:
        usage = response.usage
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
            sdk["usage"].prompt_tokens,
            sdk["usage"].completion_tokens,
            sdk["usage"].total_tokens,
        )
        assert not usage.estimated
    else:
        assert response.usage.estimated
    return response


@pytest.mark.shared
@pytest.mark.parametrize("path", RECORDED, ids=IDS)
def test_recorded_bodies_match_the_openai_sdk(emu: Emulator, path: Path) -> None:
    response = assert_matches_sdk(emu, path.read_bytes())
    assert response.content and response.finish_reason == "length"
    assert response.model and response.id and response.id.startswith("cmpl-")


@pytest.mark.shared
def test_the_recordings_are_all_here() -> None:
    assert len(RECORDED) == 3, [p.name for p in RECORDED]


@pytest.mark.shared
@pytest.mark.parametrize("path", RECORDED, ids=IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(path: Path, data: st.DataObject) -> None:
    body = path.read_bytes()
    whole = decode(body, [])
    assert whole[1][0].content  # the decoded text is not empty
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    assert decode(body, cuts) == whole
    near = data.draw(st.integers(0, max(0, len(body) - 64)))
    assert decode(body, list(range(near, min(len(body), near + 64)))) == whole


def decode(body: bytes, cuts: list[int], **params: Any) -> tuple[list[Any], Any]:
    return decode_split(OpenAICompletionsCodec().stream_decoder(call(**params)), body, cuts)


# ------------------------------------------- bodies written from the reference


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    body = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "cmpl-abc",
        "object": "text_completion",
        "created": 1,
        "choices": list(choices),
        "model": "gpt-3.5-turbo-instruct",
        **extra,
    }


def text(index: int, piece: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"text": piece, "index": index, "logprobs": None, "finish_reason": finish, **extra}


USAGE = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}


def test_n_interleaved_choices_accumulate_per_choice(emu: Emulator) -> None:
    body = sse(
        chunk(text(0, "The")),
        chunk(text(1, "A")),
        chunk(text(1, " cat")),
        chunk(text(0, " dog")),
        chunk(text(1, " sat", "stop")),
        chunk(text(0, " ran", "length")),
        chunk(usage=USAGE),
    )
    response = assert_matches_sdk(emu, body, n=2)
    assert [c.content for c in response.choices] == ["The dog ran", "A cat sat"]
    assert [c.finish_reason for c in response.choices] == ["length", "stop"]


def test_several_prompts_give_indexed_choices(emu: Emulator) -> None:
    """Two prompts, n=2: choice ``prompt * n + j``."""
    pieces = {0: "one", 1: "two", 2: "three", 3: "four"}
    body = sse(
        *(chunk(text(i, f"{p} ")) for i, p in pieces.items()),
        *(chunk(text(i, "end", "stop")) for i in reversed(pieces)),
    )
    response = assert_matches_sdk(emu, body, n=2, prompts=["first", "second"])
    assert [c.content for c in response.choices] == ["one end", "two end", "three end", "four end"]
    request = emu.requests[-1].json
    assert request["prompt"] == ["first", "second"] and request["n"] == 2


def test_several_prompts_are_complete_once_every_choice_finished() -> None:
    """Without ``[DONE]``, the stream is complete only when all ``prompts * n``
    choices have finished."""
    body = sse(chunk(text(0, "a", "stop")), chunk(text(1, "b", "stop")), done=False)
    decoder = OpenAICompletionsCodec().stream_decoder(
        rill.providers.Call(model="m", messages=(), prompt=("p", "q", "r"))
    )
    decoder.feed(body)
    assert not decoder.complete
    decoder.feed(sse(chunk(text(2, "c", "stop")), done=False))
    assert decoder.complete


def logprobs(tokens: list[str], values: list[float | None], offset: int) -> dict[str, Any]:
    tops: list[Any] = [
        None if v is None else {t: v, " x": -9.5} for t, v in zip(tokens, values, strict=True)
    ]
    offsets = []
    for token in tokens:
        offsets.append(offset)
        offset += len(token)
    return {
        "tokens": tokens,
        "token_logprobs": values,
        "top_logprobs": tops,
        "text_offset": offsets,
    }


def test_logprobs_accumulate_one_entry_per_token(emu: Emulator) -> None:
    body = sse(
        chunk(text(0, "Hello", logprobs=logprobs(["Hello"], [-0.25], 2))),
        chunk(text(0, " world!", logprobs=logprobs([" world", "!"], [-1.5, -0.125], 7))),
        chunk(text(0, "", "stop", logprobs=logprobs([], [], 14))),
    )
    response = assert_matches_sdk(emu, body, logprobs=2)
    entries = [("Hello", -0.25, 2), (" world", -1.5, 7), ("!", -0.125, 13)]
    assert response.logprobs == [
        {"token": t, "logprob": v, "top_logprobs": {t: v, " x": -9.5}, "text_offset": o}
        for t, v, o in entries
    ]
    assert emu.requests[-1].json["logprobs"] == 2


def test_echo_with_logprobs_keeps_the_prompt_and_its_null_first_logprob(emu: Emulator) -> None:
    body = sse(
        chunk(text(0, "Say hi", logprobs=logprobs(["Say", " hi"], [None, -3.0], 0))),
        chunk(text(0, ": hi", "stop", logprobs=logprobs([":", " hi"], [-0.5, -0.25], 6))),
        chunk(usage=USAGE),
    )
    response = assert_matches_sdk(emu, body, echo=True, logprobs=1)
    assert response.content == "Say hi: hi"
    assert response.logprobs is not None and response.logprobs[0]["logprob"] is None
    assert [e["text_offset"] for e in response.logprobs] == [0, 3, 6, 7]
    assert emu.requests[-1].json["echo"] is True


def test_suffix_is_sent_and_the_inserted_text_comes_back(emu: Emulator) -> None:
    body = sse(
        chunk(text(0, "    a, b = 0, 1\n    for _ in range(n):\n")),
        chunk(text(0, "        a, b = b, a + b", "stop")),
    )
    response = assert_matches_sdk(emu, body, suffix="\n    return a")
    assert response.content.endswith("a, b = b, a + b")
    assert emu.requests[-1].json["suffix"] == "\n    return a"


@pytest.mark.parametrize(
    ("stop_reason", "native"), [("\n\n", "\n\n"), (50256, "50256"), (None, "stop")]
)
def test_vllm_stop_reason_is_the_native_reason(
    emu: Emulator, stop_reason: object, native: str
) -> None:
    body = sse(
        chunk(text(0, "x", stop_reason=None), usage=None),
        chunk(text(0, "y", "stop", stop_reason=stop_reason), usage=None),
    )
    response = assert_matches_sdk(emu, body)
    assert response.finish_reason == "stop"
    assert response.native_finish_reason == native


def test_usage_in_the_finish_chunk_is_found(emu: Emulator) -> None:
    body = sse(chunk(text(0, "a")), chunk(text(0, "b", "stop"), usage=USAGE))
    response = assert_matches_sdk(emu, body)
    assert response.usage.completion_tokens == 6


@pytest.mark.parametrize("params", [{}, {"n": 2}, {"logprobs": 3}, {"echo": True}])
def test_reference_bodies_split_anywhere(params: dict[str, Any]) -> None:
    body = sse(
        chunk(text(0, "héllo ", logprobs=logprobs(["h", "éllo "], [-1.0, -2.0], 0))),
        chunk(text(1, "wörld 🙂")),
        chunk(text(0, "end", "stop", stop_reason="\n")),
        chunk(text(1, "!", "length")),
        chunk(usage=USAGE),
    )
    whole = decode(body, [], **params)
    for cut in range(len(body) + 1):
        assert decode(body, [cut], **params) == whole
    assert decode(body, list(range(len(body))), **params) == whole


# -------------------------------------------------------------------- errors


BOOM = {"message": "The server had an error", "type": "server_error", "code": None}


@pytest.mark.parametrize("style", ["event", "chunk"])
@pytest.mark.parametrize("after_text", [False, True])
def test_error_in_the_stream(emu: Emulator, style: str, after_text: bool) -> None:
    """An error event (Groq's style) or an error chunk then ``[DONE]``
    (OpenRouter's), before any text or after some: a ProviderStreamError
    carrying what arrived, and no retry."""
    before = sse(chunk(text(0, "Once upon")), done=False) if after_text else b""
    error = (
        b"event: error\ndata: " + orjson.dumps({"error": BOOM}) + b"\n\n"
        if style == "event"
        else sse({"error": BOOM})
    )
    emu.enqueue(Script.of_body(before + error), Script.of_text("a retry must not happen"))
    requests = len(emu.requests)
    with pytest.raises(rill.ProviderStreamError, match="The server had an error") as info:
        rill.complete("x", model="vllm/m", base_url=emu.base_url, max_retries=2)
    assert info.value.partial is not None
    assert info.value.partial.content == ("Once upon" if after_text else "")
    assert len(emu.requests) == requests + 1
    # The script a retry would have taken is still there.
    assert rill.complete("x", model="vllm/m", base_url=emu.base_url).content.startswith("a retry")


def test_a_json_error_body_under_an_event_stream_content_type(emu: Emulator) -> None:
    emu.enqueue(Script.of_body(orjson.dumps({"error": BOOM})))
    with pytest.raises(rill.ProviderStreamError, match="The server had an error"):
        rill.complete("x", model="vllm/m", base_url=emu.base_url)


def test_a_whole_response_sent_instead_of_a_stream(emu: Emulator) -> None:
    whole = chunk(text(0, "all at once", "stop"), usage=USAGE)
    emu.enqueue(Script.of_body(orjson.dumps(whole)))
    response = rill.complete("x", model="vllm/m", base_url=emu.base_url)
    assert (response.content, response.finish_reason) == ("all at once", "stop")
    assert response.usage.total_tokens == 10


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, rill.BadRequestError),
        (401, rill.AuthenticationError),
        (404, rill.NotFoundError),
        (429, rill.RateLimitError),
    ],
)
def test_http_errors(emu: Emulator, status: int, error: type[Exception]) -> None:
    emu.enqueue(Script.of_status(status))
    with pytest.raises(error):
        rill.complete("x", model="vllm/m", base_url=emu.base_url, max_retries=0)


def test_a_cut_after_text_is_incomplete_with_the_partial(emu: Emulator) -> None:
    body = sse(chunk(text(0, "Once")), chunk(text(0, " upon", "stop")))
    cut = body.index(b"data: ", 10)
    emu.enqueue(Script.of_body(body, faults=(Fault.close_after(cut),)))
    with pytest.raises(rill.IncompleteStreamError) as info:
        rill.complete("x", model="vllm/m", base_url=emu.base_url, max_retries=2)
    assert info.value.partial is not None and info.value.partial.content == "Once"


def test_retried_before_the_first_text(emu: Emulator) -> None:
    emu.enqueue(Script.of_status(503, headers={"retry-after-ms": "10"}), Script.of_text("fine"))
    response = rill.complete("x", model="vllm/m", base_url=emu.base_url, max_retries=1)
    assert response.content == "fine"


# ------------------------------------------------------- the emulator's protocol


def test_streamed_from_the_emulator(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("def fib(n):\n    return n"))
    chunks = list(
        rill.complete_stream(
            "def fib(n):", model="llamacpp/any", base_url=emu.base_url, max_tokens=8, stop=["\n\n"]
        )
    )
    assert "".join(c.content for c in chunks) == "def fib(n):\n    return n"
    assert chunks[-1].usage is not None and not chunks[-1].usage.estimated
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    sent = emu.requests[-1]
    assert sent.path == "/v1/completions"
    assert sent.json == {
        "model": "any",
        "prompt": "def fib(n):",
        "max_tokens": 8,
        "stop": ["\n\n"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_the_emulator_matches_the_sdk_streamed(emu: Emulator) -> None:
    """The emulator's own bytes (n=2, logprobs, echo) read alike by both."""
    script = Script(replies=(Reply(text="red fox"), Reply(text="blue jay", finish_reason="length")))
    params: dict[str, Any] = {"n": 2, "logprobs": 2, "echo": True}
    emu.enqueue(script)
    client = openai.OpenAI(base_url=emu.base_url, api_key="t", max_retries=0)
    texts: dict[int, str] = {}
    with client:
        for c in client.completions.create(model="m", prompt="Say:", stream=True, **params):
            for choice in c.choices:
                texts[choice.index] = texts.get(choice.index, "") + choice.text
    emu.enqueue(script)
    response = rill.complete("Say:", model="vllm/m", base_url=emu.base_url, **params)
    assert [c.content for c in response.choices] == [texts[0], texts[1]]
    assert texts == {0: "Say:red fox", 1: "Say:blue jay"}
    assert [c.finish_reason for c in response.choices] == ["stop", "length"]
    lp = response.choices[1].logprobs
    assert lp is not None and [e["token"] for e in lp] == ["Say", ":", "blue", " jay"]


def test_best_of_asks_for_the_whole_response(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("picked"))
    chunks = list(rill.complete_stream("x", model="vllm/m", base_url=emu.base_url, n=2, best_of=4))
    assert [c.content for c in chunks] == ["picked", "picked"]
    sent = emu.requests[-1].json
    assert "stream" not in sent and sent["best_of"] == 4


def test_whole_responses_match_the_sdk(emu: Emulator) -> None:
    """The emulator's non-streamed body (asked for by ``best_of``), read by
    the SDK and by rill: the same texts, finish reasons, logprobs and usage."""
    script = Script(replies=(Reply(text="red fox"), Reply(text="blue jay", finish_reason="length")))
    params: dict[str, Any] = {"n": 2, "best_of": 3, "logprobs": 2, "echo": True}
    emu.enqueue(script)
    client = openai.OpenAI(base_url=emu.base_url, api_key="t", max_retries=0)
    with client:
        sdk = client.completions.create(model="m", prompt=["A:", "B:"], **params)
    emu.enqueue(script)
    response = rill.complete(["A:", "B:"], model="vllm/m", base_url=emu.base_url, **params)
    expected = []
    for choice in sdk.choices:
        lp = choice.logprobs
        assert lp is not None and lp.tokens
        entries = [
            {"token": t, "logprob": lp.token_logprobs[i], "top_logprobs": lp.top_logprobs[i],
             "text_offset": lp.text_offset[i]}
            for i, t in enumerate(lp.tokens)
        ]  # fmt: skip
        expected.append(
            {"text": choice.text, "finish_reason": choice.finish_reason, "logprobs": entries}
        )
    assert rill_view(response) == expected
    assert [c["text"] for c in expected] == ["A:red fox", "A:blue jay", "B:red fox", "B:blue jay"]
    assert sdk.usage is not None and response.usage.total_tokens == sdk.usage.total_tokens


def test_no_usage_reported_is_estimated(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("one two three", usage=None))
    response = rill.complete("count", model="vllm/m", base_url=emu.base_url)
    assert response.usage.estimated and response.usage.completion_tokens > 0


def test_an_endpoint_that_rejects_stream_options_is_not_sent_them(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("ok"))
    rill.complete("x", model="mistral/m", api_key="k", base_url=emu.base_url)
    assert "stream_options" not in emu.requests[-1].json


def test_extra_body_and_headers(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("ok"))
    rill.complete(
        "x",
        model="openai/gpt-3.5-turbo-instruct",
        api_key="sk-test",
        base_url=emu.base_url,
        extra_body={"top_k": 5},
        extra_headers={"X-Trace": "1"},
        logit_bias={"50256": -100},
        user="u1",
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        temperature=0,
        top_p=0.9,
        max_tokens=5,
    )
    sent = emu.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-test" and sent.headers["x-trace"] == "1"
    assert {k: sent.json[k] for k in ("top_k", "logit_bias", "user", "seed", "temperature")} == {
        "top_k": 5,
        "logit_bias": {"50256": -100},
        "user": "u1",
        "seed": 7,
        "temperature": 0,
    }
    # Unlike OpenAI's chat (max_completion_tokens), its completions take max_tokens.
    assert sent.json["max_tokens"] == 5 and "max_completion_tokens" not in sent.json


def test_callback_sees_every_chunk(emu: Emulator) -> None:
    seen: list[str] = []
    emu.enqueue(Script.of_text("a b c"))
    response = rill.complete(
        "x", model="vllm/m", base_url=emu.base_url, callback=lambda c: seen.append(c.content)
    )
    assert "".join(seen) == response.content == "a b c"


@pytest.mark.anyio
async def test_async_streamed(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("async text", tokens_per_second=500))
    pieces = []
    stream = rill.acomplete_stream("x", model="llamacpp/any", base_url=emu.base_url, suffix="\n")
    async for piece in stream:
        pieces.append(piece.content)
    assert "".join(pieces) == "async text" == stream.response.content
    assert stream.response.timing.ttft is not None
    emu.enqueue(Script.of_text("whole"))
    response = await rill.acomplete(["p", "q"], model="vllm/m", base_url=emu.base_url)
    assert [c.content for c in response.choices] == ["whole", "whole"]


@pytest.mark.anyio
async def test_async_leaving_early_closes_the_response(rill_emulator: Emulator) -> None:
    emu = rill_emulator
    emu.enqueue(Script.of_text("word " * 200, tokens_per_second=200))
    async with rill.acomplete_stream("x", model="vllm/m", base_url=emu.base_url) as stream:
        async for piece in stream:
            assert piece.content
            break
    assert await emu.await_closed()


def test_breaking_out_closes_the_response(rill_emulator: Emulator) -> None:
    emu = rill_emulator
    emu.enqueue(Script.of_text("word " * 200, tokens_per_second=200))
    with rill.complete_stream("x", model="vllm/m", base_url=emu.base_url) as stream:
        for _ in stream:
            break
    assert emu.wait_closed()


# ---------------------------------------------------------- refused at the call


@pytest.mark.parametrize(
    "model",
    [
        "anthropic/claude-haiku-4-5",
        "gemini/gemini-2.5-flash",
        "cohere/command-a",
        "openai-responses/gpt-5",
    ],
)
def test_providers_without_the_endpoint(model: str) -> None:
    provider = model.partition("/")[0]
    with pytest.raises(rill.ConfigurationError, match=f"'{provider}' has no text-completion"):
        rill.complete_stream("x", model=model, api_key="k")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"tools": [{"name": "f", "parameters": {}}]}, "'tools' is a chat parameter"),
        ({"response_format": {"type": "json_object"}}, "'response_format' is a chat parameter"),
        ({"tool_choice": "auto"}, "'tool_choice' is a chat parameter"),
        ({"system": "be brief"}, "'system' is a chat parameter"),
        ({"reasoning_effort": "low"}, "chat parameter"),
        ({"logprobs": True}, "'logprobs' must be int"),
        ({"logprobs": -1}, "logprobs must be >= 0"),
        ({"best_of": 1, "n": 2}, r"best_of \(1\) must be at least n \(2\)"),
        ({"echo": "yes"}, "'echo' must be bool"),
        ({"suffix": 3}, "'suffix' must be str"),
        ({"max_tokens": 0}, "max_tokens must be at least 1"),
        ({"bogus": 1}, "unknown parameter 'bogus'"),
    ],
)
def test_bad_parameters(params: dict[str, Any], match: str) -> None:
    with pytest.raises(rill.InvalidRequestError, match=match):
        rill.complete_stream("x", model="vllm/m", **params)
    with pytest.raises(rill.InvalidRequestError, match=match):
        rill.acomplete_stream("x", model="vllm/m", **params)


@pytest.mark.parametrize(
    ("prompt", "match"),
    [
        ([], "empty list"),
        (["a", 3], r"prompt\[1\] is int"),
        (None, "must be a string or a list of strings"),
        ([{"role": "user", "content": "x"}], r"prompt\[0\] is dict"),
    ],
)
def test_bad_prompts(prompt: Any, match: str) -> None:
    with pytest.raises(rill.InvalidRequestError, match=match):
        rill.complete_stream(prompt, model="vllm/m")


def test_missing_key_and_unknown_model_fail_at_the_call() -> None:
    with pytest.raises(rill.MissingAPIKeyError):
        rill.complete_stream("x", model="openai/gpt-3.5-turbo-instruct")
    with pytest.raises(rill.UnknownProviderError):
        rill.complete_stream("x", model="nope/m")
    with pytest.raises(rill.InvalidRequestError, match="model= is required"):
        rill.complete_stream("x")  # type: ignore[call-arg]


def test_every_openai_compatible_preset_serves_completions(emu: Emulator) -> None:
    from rill.providers._presets import builtin_providers

    # The built-in presets (other tests may have registered providers of their own).
    for provider in builtin_providers():
        name = provider.name
        if provider.codec.name != "openai-chat":
            continue
        emu.enqueue(Script.of_text("ok"))
        # Azure's deployment URLs hang off the resource's root, not off /v1.
        base_url = emu.url if name == "azure" else emu.base_url
        response = rill.complete("x", model=f"{name}/m", api_key="k", base_url=base_url)
        assert response.content == "ok" and response.provider == name
        path = emu.requests[-1].path
        assert path.endswith("/completions") and "/chat/" not in path, name


def test_azure_deployment_url() -> None:
    from rill._completion import prepare_completion

    request = prepare_completion(
        "x",
        {"model": "azure/my-instruct", "api_key": "k", "base_url": "https://r.openai.azure.com"},
    )
    assert request.http.url.startswith(
        "https://r.openai.azure.com/openai/deployments/my-instruct/completions?api-version="
    )
    assert request.http.headers["api-key"] == "k"


# ------------------------------------------------------------------- Ollama


def test_ollama_uses_api_generate(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("from generate"))
    response = rill.complete(
        "Why is the sky blue?", model="ollama/llama3", base_url=emu.url, suffix="!", logprobs=2
    )
    assert response.content == "from generate" and response.provider == "ollama"
    sent = emu.requests[-1]
    assert sent.path == "/api/generate"
    assert sent.json["prompt"] == "Why is the sky blue?" and sent.json["suffix"] == "!"
    assert (sent.json["logprobs"], sent.json["top_logprobs"]) == (True, 2)


@pytest.mark.parametrize(
    ("prompt", "params", "match"),
    [
        (["a", "b"], {}, "one prompt per request"),
        ("a", {"echo": True}, "does not support the parameter 'echo'"),
        ("a", {"best_of": 2}, "does not support the parameter 'best_of'"),
        ("a", {"n": 2}, "one reply per request"),
    ],
)
def test_ollama_refuses_what_generate_cannot_do(prompt: Any, params: Any, match: str) -> None:
    with pytest.raises(rill.InvalidRequestError, match=match):
        rill.complete_stream(prompt, model="ollama-generate/llama3", **params)
