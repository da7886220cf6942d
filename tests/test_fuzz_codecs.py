"""Fuzzing every provider codec: whatever bytes a server sends, a decoder
returns well-typed ``StreamChunk`` values and reports a ``RillError`` (as
``decoder.error``, or raised by ``decode_response``), never anything else,
and never loses the chunks decoded before a bad event.

Three kinds of input, for each codec: arbitrary bytes (bare, and framed as
the codec's events, lines or array elements); arbitrary JSON of any shape in
each event type the codec knows; and valid events with one field replaced by
arbitrary JSON (or removed). The same bodies also go end to end through a
``StreamSession`` (no I/O). Deterministic (``derandomize``, no database) and
quick: the whole file runs in a few seconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill import ProtocolError, RillError, StreamChunk
from rill._accumulate import Accumulator
from rill.providers import Codec
from rill.providers._anthropic import AnthropicCodec
from rill.providers._cohere import CohereCodec
from rill.providers._gemini import GeminiCodec
from rill.providers._ollama import OllamaChatCodec, OllamaGenerateCodec
from rill.providers._openai_chat import OpenAIChatCodec
from rill.providers._openai_completions import OpenAICompletionsCodec
from rill.providers._openai_responses import OpenAIResponsesCodec

from .decoding import call

FUZZ = settings(
    max_examples=60,
    deadline=2000,  # ms per example: a decoder that hangs or goes quadratic fails
)

# ------------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


# ------------------------------------------------------------- valid events


def _tc(i: int, **fn: Any) -> dict[str, Any]:
    return {"index": i, "id": f"call_{i}", "type": "function", "function": fn}


OPENAI_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "",
        {
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
        },
    ),
    (
        "",
        {
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
        },
    ),
    ("", {"choices": [{"index": 0, "delta": {"reasoning_content": "hm", "content": None}}]}),
    (
        "",
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "content": [
                            {"type": "thinking", "thinking": [{"type": "text", "text": "t"}]},
                            {"type": "text", "text": "x"},
                        ]
                    },
                }
            ]
        },
    ),
    (
        "",
        {"choices": [{"index": 0, "delta": {"tool_calls": [_tc(0, name="f", arguments='{"a"')]}}]},
    ),
    (
        "",
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                }
            ]
        },
    ),
    (
        "",
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"refusal": "no"},
                    "logprobs": {"content": [{"token": "a", "logprob": -0.1}]},
                }
            ]
        },
    ),
    ("", {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    (
        "",
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 3,
                "completion_tokens": 2,
                "total_tokens": 5,
                "completion_tokens_details": {"reasoning_tokens": 1},
                "prompt_tokens_details": {"cached_tokens": 1},
            },
        },
    ),
    ("", {"choices": [], "x_groq": {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}}),
    ("", {"error": {"message": "overloaded", "code": 500}}),
    ("error", {"error": {"message": "bad"}}),
]

COMPLETIONS_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "",
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "model": "m",
            "choices": [{"index": 0, "text": "Hi", "logprobs": None, "finish_reason": None}],
        },
    ),
    (
        "",
        {
            "choices": [
                {
                    "index": 1,
                    "text": " there",
                    "logprobs": {
                        "tokens": [" there"],
                        "token_logprobs": [-0.5],
                        "top_logprobs": [{" there": -0.5, " then": -2.0}],
                        "text_offset": [2],
                    },
                    "finish_reason": "stop",
                    "stop_reason": "\n",
                }
            ],
            "usage": None,
        },
    ),
    ("", {"choices": [{"index": 0, "text": "", "finish_reason": "length", "stop_reason": 7}]}),
    ("", {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}),
    ("", {"error": {"message": "overloaded", "code": 500}}),
    ("error", {"error": {"message": "bad"}}),
]

ANTHROPIC_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude",
                "usage": {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": 2},
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "thinking", "thinking": ""},
        },
    ),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
    ),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {
                "type": "server_tool_use",
                "id": "srv_1",
                "name": "web_search",
                "input": {},
            },
        },
    ),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 4,
            "content_block": {"type": "text", "text": "", "citations": []},
        },
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "thinking_delta", "thinking": "hm"},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "signature_delta", "signature": "sig"},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": '{"q": "x"}'},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 4,
            "delta": {"type": "citations_delta", "citation": {"cited_text": "c"}},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("content_block_stop", {"type": "content_block_stop", "index": 3}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 7, "output_tokens_details": {"thinking_tokens": 2}},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
    ("ping", {"type": "ping"}),
    ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
]

RESPONSES_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "response.created",
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": {"id": "resp_1", "model": "gpt", "status": "in_progress"},
        },
    ),
    (
        "response.output_item.added",
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "reasoning", "id": "rs_1"},
        },
    ),
    (
        "response.reasoning_summary_text.delta",
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "summary_index": 0,
            "delta": "think",
        },
    ),
    (
        "response.reasoning_text.delta",
        {
            "type": "response.reasoning_text.delta",
            "item_id": "rs_1",
            "content_index": 0,
            "delta": "more",
        },
    ),
    (
        "response.output_item.done",
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "reasoning", "id": "rs_1", "summary": []},
        },
    ),
    (
        "response.output_item.added",
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f"},
        },
    ),
    (
        "response.function_call_arguments.delta",
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 1,
            "item_id": "fc_1",
            "delta": '{"a": 1}',
        },
    ),
    (
        "response.output_text.delta",
        {
            "type": "response.output_text.delta",
            "output_index": 2,
            "delta": "Hi",
            "logprobs": [{"token": "Hi", "logprob": 0}],
        },
    ),
    (
        "response.refusal.delta",
        {"type": "response.refusal.delta", "output_index": 2, "delta": "no"},
    ),
    (
        "response.completed",
        {
            "type": "response.completed",
            "response": {
                "id": "resp_1",
                "model": "gpt",
                "status": "completed",
                "output": [{"type": "function_call"}],
                "usage": {
                    "input_tokens": 3,
                    "output_tokens": 4,
                    "total_tokens": 7,
                    "output_tokens_details": {"reasoning_tokens": 1},
                    "input_tokens_details": {"cached_tokens": 1},
                },
            },
        },
    ),
    (
        "response.incomplete",
        {
            "type": "response.incomplete",
            "response": {
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
            },
        },
    ),
    (
        "response.failed",
        {"type": "response.failed", "response": {"status": "failed", "error": {"message": "boom"}}},
    ),
    ("error", {"type": "error", "code": "server_error", "message": "boom"}),
]

COHERE_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "message-start",
        {"type": "message-start", "id": "r1", "delta": {"message": {"role": "assistant"}}},
    ),
    (
        "content-start",
        {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "text", "text": ""}}},
        },
    ),
    (
        "content-delta",
        {
            "type": "content-delta",
            "index": 0,
            "delta": {"message": {"content": {"text": "Hi"}}},
            "logprobs": {"token_ids": [1]},
        },
    ),
    (
        "content-delta",
        {
            "type": "content-delta",
            "index": 0,
            "delta": {"message": {"content": {"thinking": "hm"}}},
        },
    ),
    ("content-end", {"type": "content-end", "index": 0}),
    ("tool-plan-delta", {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will"}}}),
    (
        "tool-call-start",
        {
            "type": "tool-call-start",
            "index": 0,
            "delta": {
                "message": {
                    "tool_calls": {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                }
            },
        },
    ),
    (
        "tool-call-delta",
        {
            "type": "tool-call-delta",
            "index": 0,
            "delta": {"message": {"tool_calls": {"function": {"arguments": '{"a": 1}'}}}},
        },
    ),
    ("tool-call-end", {"type": "tool-call-end", "index": 0}),
    (
        "citation-start",
        {
            "type": "citation-start",
            "index": 0,
            "delta": {"message": {"citations": {"start": 0, "end": 2, "text": "Hi"}}},
        },
    ),
    ("citation-end", {"type": "citation-end", "index": 0}),
    (
        "message-end",
        {
            "type": "message-end",
            "delta": {
                "finish_reason": "COMPLETE",
                "usage": {
                    "tokens": {"input_tokens": 3, "output_tokens": 2},
                    "billed_units": {"input_tokens": 3.0},
                },
            },
        },
    ),
    ("error", {"type": "error", "message": "boom"}),
]

GEMINI_ELEMENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "",
        {
            "candidates": [
                {
                    "index": 0,
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Hi"},
                            {"text": "hm", "thought": True, "thoughtSignature": "sig"},
                        ],
                    },
                }
            ],
            "modelVersion": "g",
            "responseId": "r1",
        },
    ),
    (
        "",
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {
                                "functionCall": {"name": "f", "args": {"a": 1}},
                                "thoughtSignature": "s2",
                            },
                            {"executableCode": {"code": "1"}},
                            {"thoughtSignature": "s3"},
                        ]
                    },
                    "groundingMetadata": {"q": [1]},
                    "logprobsResult": {
                        "chosenCandidates": [{"token": "a"}],
                        "topCandidates": [{"candidates": []}],
                    },
                }
            ]
        },
    ),
    (
        "",
        {
            "candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 3,
                "candidatesTokenCount": 2,
                "thoughtsTokenCount": 1,
                "totalTokenCount": 6,
                "cachedContentTokenCount": 0,
            },
        },
    ),
    ("", {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}),
    ("", {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}),
]

OLLAMA_LINES: list[tuple[str, dict[str, Any]]] = [
    (
        "",
        {
            "model": "q",
            "message": {"role": "assistant", "content": "Hi", "thinking": "hm"},
            "done": False,
        },
    ),
    (
        "",
        {
            "model": "q",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "f", "arguments": {"a": 1}}},
                    {"id": "c9", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            "done": False,
            "logprobs": [{"token": "Hi"}],
        },
    ),
    (
        "",
        {
            "model": "q",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 3,
            "eval_count": 2,
            "total_duration": 1000,
            "eval_duration": 10,
        },
    ),
    ("", {"error": "model not found"}),
]

OLLAMA_GENERATE_LINES: list[tuple[str, dict[str, Any]]] = [
    ("", {"model": "q", "response": "Hi", "thinking": "hm", "done": False}),
    (
        "",
        {
            "model": "q",
            "response": "",
            "done": True,
            "done_reason": "length",
            "context": [1, 2],
            "eval_count": 1,
        },
    ),
]


# ------------------------------------------------------------------ framings


def sse(events: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, data in events:
        out += (b"event: " + name.encode() + b"\n" if name else b"") + b"data: " + data + b"\n\n"
    return out


def sse_crlf(events: list[tuple[str, bytes]]) -> bytes:
    return b"".join(b"data: " + data + b"\r\n\r\n" for _, data in events)


def ndjson(events: list[tuple[str, bytes]]) -> bytes:
    return b"".join(data + b"\n" for _, data in events)


def json_array(events: list[tuple[str, bytes]]) -> bytes:
    return b"[" + b",\n".join(data for _, data in events) + b"]"


COMPLETE = "complete:"
"""Before a model string: the session is a text completion's (``rill.complete``)."""

# (codec, its valid events, framings of a body, model string for a session)
Codecs = list[tuple[str, Codec, list[tuple[str, dict[str, Any]]], list[Callable[..., bytes]], str]]
CODECS: Codecs = [
    ("openai-chat", OpenAIChatCodec(), OPENAI_EVENTS, [sse], "openai/gpt-4o-mini"),
    (
        "openai-completions",
        OpenAICompletionsCodec(),
        COMPLETIONS_EVENTS,
        [sse],
        f"{COMPLETE}openai/gpt-3.5-turbo-instruct",
    ),
    ("anthropic", AnthropicCodec(), ANTHROPIC_EVENTS, [sse], "anthropic/claude-haiku-4-5"),
    (
        "openai-responses",
        OpenAIResponsesCodec(),
        RESPONSES_EVENTS,
        [sse],
        "openai-responses/gpt-4o-mini",
    ),
    ("cohere", CohereCodec(), COHERE_EVENTS, [sse], "cohere/command-a"),
    ("gemini", GeminiCodec(), GEMINI_ELEMENTS, [sse_crlf, json_array], "gemini/gemini-2.5-flash"),
    ("ollama-chat", OllamaChatCodec(), OLLAMA_LINES, [ndjson], "ollama/qwen3"),
    (
        "ollama-generate",
        OllamaGenerateCodec(),
        OLLAMA_GENERATE_LINES,
        [ndjson],
        "ollama-generate/qwen3",
    ),
]
IDS = [c[0] for c in CODECS]


# ------------------------------------------------------------------ oracles


def decode(codec: Codec, body: bytes, cuts: list[int]) -> tuple[list[StreamChunk], Any]:
    """Feed ``body`` cut at ``cuts`` and flush; only chunks and a RillError may come out."""
    decoder = codec.stream_decoder(call())
    chunks: list[StreamChunk] = []
    for start, end in itertools.pairwise([0, *sorted(set(cuts)), len(body)]):
        chunks += decoder.feed(body[start:end])
        if decoder.error is not None:
            break
    else:
        chunks += decoder.flush()
    assert_well_typed(chunks)
    assert decoder.error is None or isinstance(decoder.error, RillError), decoder.error
    return chunks, decoder.error


def assert_well_typed(chunks: list[StreamChunk], *, strict: bool = False) -> None:
    """Each chunk folds into an accumulator, or (a decoder's raw output only)
    the accumulator refuses it with a ProtocolError, as the session would."""
    assert all(type(c) is StreamChunk for c in chunks)
    accumulator = Accumulator()
    for chunk in chunks:
        try:
            accumulator.add(chunk)
        except ProtocolError:
            assert not strict, "the session delivered a chunk of the wrong shape"
            break
    accumulator.snapshot()  # joins every piece: a non-str would raise here


def decode_whole(codec: Codec, body: bytes) -> None:
    try:
        chunks = codec.decode_response(call(), body)
    except RillError:
        return
    assert_well_typed(chunks)


def through_session(model: str, body: bytes, cuts: list[int]) -> None:
    """The body end to end through a ``StreamSession``: chunks, or a RillError."""
    from rill._completion import prepare_completion
    from rill._request import prepare_request
    from rill._session import StreamSession

    if model.startswith(COMPLETE):
        options = {"model": model.removeprefix(COMPLETE), "api_key": "k"}
        session = StreamSession(prepare_completion("x", options))
    else:
        session = StreamSession(prepare_request("x", {"model": model, "api_key": "k"}))
    session.start()
    assert session.begin(200, {"content-type": "text/event-stream"})
    delivered: list[StreamChunk] = []
    try:
        for start, end in itertools.pairwise([0, *sorted(set(cuts)), len(body)]):
            delivered += session.feed(body[start:end])
            session.after_read()
        delivered += session.flush()
    except RillError:
        pass
    assert_well_typed(delivered, strict=True)
    session.response  # noqa: B018 (the partial, whatever happened)


def cuts_for(body_len: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, max(body_len, 0)), max_size=4)


# --------------------------------------------------------------- arbitrary bytes


@pytest.mark.parametrize(("name", "codec", "events", "framings", "model"), CODECS, ids=IDS)
@FUZZ
@given(data=st.data())
def test_arbitrary_bytes(
    name: str, codec: Codec, events: Any, framings: Any, model: str, data: st.DataObject
) -> None:
    body = data.draw(
        st.binary(max_size=300)
        | st.sampled_from([b"{", b"[", b"data:", b"\xff", b"data: \xff\n\n"])
    )
    decode(codec, body, data.draw(cuts_for(len(body))))
    decode_whole(codec, body)


@pytest.mark.parametrize(("name", "codec", "events", "framings", "model"), CODECS, ids=IDS)
@FUZZ
@given(data=st.data())
def test_arbitrary_bytes_in_frames(
    name: str, codec: Codec, events: Any, framings: Any, model: str, data: st.DataObject
) -> None:
    frame = data.draw(st.sampled_from(framings))
    names = st.sampled_from([n for n, _ in events]) | st.binary(max_size=6).map(
        lambda b: b.decode("latin-1")
    )
    pieces = data.draw(st.lists(st.tuples(names, st.binary(max_size=40)), min_size=1, max_size=4))
    body = frame(pieces)
    decode(codec, body, data.draw(cuts_for(len(body))))


def test_an_event_name_that_is_not_utf8() -> None:
    for codec in (
        AnthropicCodec(),
        OpenAIResponsesCodec(),
        CohereCodec(),
        OpenAIChatCodec(),
        OpenAICompletionsCodec(),
    ):
        _, error = decode(codec, b"event: \xff\xfe\ndata: {}\n\n", [])
        lenient = CohereCodec | OpenAIChatCodec | OpenAICompletionsCodec
        if not isinstance(codec, lenient):  # they read the name leniently
            assert isinstance(error, ProtocolError)


# ------------------------------------------------------- any JSON in every event


def event_cases() -> Iterator[Any]:
    for name, codec, events, framings, model in CODECS:
        for i, (event, template) in enumerate(events):
            kind = template.get("type", "")
            yield pytest.param(
                codec, framings, event, kind, model, id=f"{name}-{i}-{event or kind or 'data'}"
            )


@pytest.mark.parametrize(("codec", "framings", "event", "kind", "model"), list(event_cases()))
@settings(FUZZ, max_examples=12)
@given(data=st.data())
def test_any_json_in_each_event_type(
    codec: Codec, framings: Any, event: str, kind: str, model: str, data: st.DataObject
) -> None:
    """A valid event first, then the event type with arbitrary JSON fields:
    the first event's chunks always survive."""
    payload = data.draw(json_objects)
    if kind:
        payload["type"] = kind
    frame = data.draw(st.sampled_from(framings))
    check_prefix_survives(codec, frame, [("", FIRST[type(codec)])], [(event, dumps(payload))], data)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield (*prefix, i)
            yield from paths(inner, (*prefix, i))


_DELETE = object()


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        if not rest and new is _DELETE:
            del out[head]
        else:
            out[head] = replaced(value[head], rest, new)
        return out
    out_list = list(value)
    if not rest and new is _DELETE:
        del out_list[head]
    else:
        out_list[head] = replaced(value[head], rest, new)
    return out_list


def mutation_cases() -> Iterator[Any]:
    for name, codec, events, framings, _ in CODECS:
        for i, (event, template) in enumerate(events):
            for path in paths(template):
                if path == ("type",):
                    continue
                label = ".".join(map(str, path))
                yield pytest.param(codec, framings, event, template, path, id=f"{name}-{i}-{label}")


@pytest.mark.parametrize(("codec", "framings", "event", "template", "path"), list(mutation_cases()))
@settings(FUZZ, max_examples=4)
@given(data=st.data())
def test_one_field_replaced_by_any_json(
    codec: Codec, framings: Any, event: str, template: Any, path: Any, data: st.DataObject
) -> None:
    new = data.draw(st.just(_DELETE) | json_values)
    frame = data.draw(st.sampled_from(framings))
    bad = (event, dumps(replaced(template, path, new)))
    check_prefix_survives(codec, frame, [("", FIRST[type(codec)])], [bad], data)


# What a valid stream begins with: content, so a lost first chunk shows.
FIRST: dict[type, Any] = {
    OpenAIChatCodec: dumps(OPENAI_EVENTS[1][1]),
    OpenAICompletionsCodec: dumps(COMPLETIONS_EVENTS[0][1]),
    AnthropicCodec: dumps(ANTHROPIC_EVENTS[6][1]),
    OpenAIResponsesCodec: dumps(RESPONSES_EVENTS[7][1]),
    CohereCodec: dumps(COHERE_EVENTS[2][1]),
    GeminiCodec: dumps(GEMINI_ELEMENTS[0][1]),
    OllamaChatCodec: dumps(OLLAMA_LINES[0][1]),
    OllamaGenerateCodec: dumps(OLLAMA_GENERATE_LINES[0][1]),
}


def check_prefix_survives(
    codec: Codec,
    frame: Callable[..., bytes],
    head: list[tuple[str, bytes]],
    tail: list[tuple[str, bytes]],
    data: st.DataObject,
) -> None:
    """``head + tail`` decodes to chunks or a RillError, and the chunks of
    ``head`` come first whatever ``tail`` holds, however the body is cut."""
    body = frame(head + tail)
    chunks, _ = decode(codec, body, data.draw(cuts_for(len(body))))
    if frame is json_array:
        head_body = b"[" + b",".join(d for _, d in head) + b","
    else:
        head_body = frame(head)
    decoder = codec.stream_decoder(call())
    expected = decoder.feed(head_body)
    assert expected and decoder.error is None
    assert chunks[: len(expected)] == expected
    decode_whole(codec, body)
    model = MODELS[type(codec)]
    through_session(model, body, data.draw(cuts_for(len(body))))


MODELS = {type(c[1]): c[4] for c in CODECS}


# ------------------------------------------------------------- whole sequences


@pytest.mark.parametrize(("name", "codec", "events", "framings", "model"), CODECS, ids=IDS)
@FUZZ
@given(data=st.data())
def test_valid_events_in_any_order(
    name: str, codec: Codec, events: Any, framings: Any, model: str, data: st.DataObject
) -> None:
    chosen = data.draw(st.lists(st.sampled_from(events), max_size=8))
    frame = data.draw(st.sampled_from(framings))
    body = frame([(event, dumps(obj)) for event, obj in chosen])
    decode(codec, body, data.draw(cuts_for(len(body))))
    through_session(model, body, data.draw(cuts_for(len(body))))


@pytest.mark.parametrize(("name", "codec", "events", "framings", "model"), CODECS, ids=IDS)
@FUZZ
@given(body=json_values.map(dumps))
def test_any_json_as_a_whole_body(
    name: str, codec: Codec, events: Any, framings: Any, model: str, body: bytes
) -> None:
    decode(codec, body, [])
    decode_whole(codec, body)
