"""OpenAI Chat Completions, encoded from a ``Script`` (sans-IO).

The output copies the real wire format byte for byte where it matters to
clients (compare ``../shared/fixtures/wire/openai-chat``): ``data: <compact
JSON>\\n\\n`` frames; a first delta with ``role``, ``content: ""`` and
``refusal: null``; only the first tool-call fragment carries ``id``, ``type``
and ``name``; with ``n > 1`` the choices interleave; one empty-delta chunk per
choice carries ``finish_reason``; the usage chunk has ``"choices": []`` and
comes only when ``stream_options.include_usage`` asks for it; ``[DONE]`` ends
the stream. Frames share one pre-encoded prefix, so a long stream costs one
small ``orjson.dumps`` per event.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from ._intent import Intent, forced_function, function_tools, schema_in_text, text_of
from ._script import RecordedRequest, Reply, Script, answering_model, fixed_pieces, split_pieces

__all__ = ["OpenAIChatEncoder"]

_TOOL_ARGUMENT_PIECE = 4  # characters per tool-call arguments fragment
_DONE = b"data: [DONE]\n\n"

# (type, code) of OpenAI's error objects, by HTTP status.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "unknown_url"),
    408: ("timeout", None),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}


_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class OpenAIChatEncoder:
    """Encodes scripts for ``POST .../chat/completions``."""

    protocol = "OpenAI Chat Completions"
    base_path = "/v1"
    # OpenAI's /v1, the vendor prefixes OpenAI-compatible services put before
    # it (Groq, OpenRouter, Fireworks), and Azure's deployment URLs.
    routes = (
        re.compile(r"(/openai|/api|/inference)?/v1/chat/completions"),
        re.compile(r"/openai/deployments/[^/]+/chat/completions"),
    )

    def validate(self, request: RecordedRequest) -> str | None:
        """OpenAI's message for a request it would refuse with a 400, or None."""
        params = request.json
        if not isinstance(params, dict):
            return "The request body must be a JSON object."
        if not isinstance(params.get("model"), str) or not params["model"]:
            return "you must provide a model parameter"
        messages = params.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array of message objects."
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in _ROLES:
                return (
                    f"Invalid value for 'messages[{i}].role': {role!r}. Supported values are: "
                    + ", ".join(repr(r) for r in _ROLES)
                    + "."
                )
        return None

    def intent(self, request: RecordedRequest) -> Intent:
        params = request.params
        messages = [m for m in params.get("messages") or () if isinstance(m, dict)]
        users = [m for m in messages if m.get("role") == "user"]
        fmt = params.get("response_format")
        fmt = fmt if isinstance(fmt, dict) else {}
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if fmt.get("type") == "json_object":
            schema = schema_in_text([text_of(m.get("content")) for m in messages])
        elif fmt.get("type") != "json_schema":
            schema = None
        return Intent(
            model=str(params.get("model") or ""),
            prompt=text_of(users[-1].get("content")) if users else "",
            tools=function_tools(params.get("tools")),
            forced_tool=forced_function(params.get("tool_choice")),
            schema=schema if isinstance(schema, dict) else None,
            json=fmt.get("type") == "json_object",
            reasoning=params.get("reasoning_effort") not in (None, "none"),
            answering_tool=bool(messages) and messages[-1].get("role") == "tool",
        )

    def wants_stream(self, request: RecordedRequest) -> bool:
        return isinstance(request.json, dict) and request.json.get("stream") is True

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """The SSE frames of a streamed response, one event per item."""
        params = request.params
        head = orjson.dumps(
            {
                "id": _response_id(seq),
                "object": "chat.completion.chunk",
                "created": created,
                "model": answering_model(script, params.get("model")),
                "system_fingerprint": "fp_rill_emulator",
            }
        )
        prefix = b"data: " + head[:-1] + b',"choices":['
        tail = b"]}\n\n"

        replies = _replies(script, params)
        logprobs = params.get("logprobs") is True
        per_choice: list[list[dict[str, Any]]] = []
        calls = _CallIds()
        for index, reply in enumerate(replies):
            per_choice.append(list(_choice_events(reply, index, logprobs, calls)))

        frames = [prefix + orjson.dumps(event) + tail for event in _interleave(per_choice)]
        frames.extend(
            prefix
            + orjson.dumps(
                {
                    "index": index,
                    "delta": {},
                    "logprobs": None,
                    "finish_reason": reply.effective_finish_reason,
                }
            )
            + tail
            for index, reply in enumerate(replies)
        )
        stream_options = params.get("stream_options")
        if isinstance(stream_options, dict) and stream_options.get("include_usage") is True:
            usage = _usage(script, params, replies)
            if usage is not None:
                frames.append(prefix + b'],"usage":' + orjson.dumps(usage) + b"}\n\n")
        frames.append(_DONE)
        return frames

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The JSON body of a non-streamed response."""
        params = request.params
        replies = _replies(script, params)
        logprobs = params.get("logprobs") is True
        calls = _CallIds()
        choices = []
        for index, reply in enumerate(replies):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": reply.text or (None if reply.tool_calls or reply.refusal else ""),
                "refusal": reply.refusal or None,
            }
            if reply.reasoning:
                message[reply.reasoning_field] = reply.reasoning
            if reply.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": call.id or calls.next(),
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments_json},
                    }
                    for call in reply.tool_calls
                ]
            choices.append(
                {
                    "index": index,
                    "message": message,
                    "logprobs": (
                        {"content": _token_logprobs(split_pieces(reply.text)), "refusal": None}
                        if logprobs and reply.logprobs
                        else None
                    ),
                    "finish_reason": reply.effective_finish_reason,
                }
            )
        body: dict[str, Any] = {
            "id": _response_id(seq),
            "object": "chat.completion",
            "created": created,
            "model": answering_model(script, params.get("model")),
            "choices": choices,
        }
        usage = _usage(script, params, replies)
        if usage is not None:
            body["usage"] = usage
        body["system_fingerprint"] = "fp_rill_emulator"
        return orjson.dumps(body)

    def error(self, status: int, message: str) -> bytes:
        """An OpenAI-style error body for ``status``."""
        kind, code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        return orjson.dumps(
            {"error": {"message": message, "type": kind, "param": None, "code": code}}
        )


class _CallIds:
    """Default tool-call ids, numbered across one response."""

    def __init__(self) -> None:
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"call_{self._n}"


def _response_id(seq: int) -> str:
    return f"chatcmpl-rill{seq:06d}"


def _replies(script: Script, params: dict[str, Any]) -> tuple[Reply, ...]:
    """One reply per choice: a single scripted reply answers all ``n``."""
    if len(script.replies) == 1:
        n = params.get("n")
        if isinstance(n, int) and n > 1:
            return script.replies * n
    return script.replies


def _choice_events(
    reply: Reply, index: int, logprobs: bool, calls: _CallIds
) -> Iterator[dict[str, Any]]:
    """The choice objects of one reply's chunks, before its finish chunk."""
    with_logprobs = logprobs and reply.logprobs
    first: dict[str, Any] = {
        "role": "assistant",
        "content": None if not reply.text and (reply.tool_calls or reply.refusal) else "",
    }
    starts_with_call = bool(reply.tool_calls) and not (
        reply.text or reply.reasoning or reply.refusal
    )
    call_starts = [
        {
            "index": n,
            "id": call.id or calls.next(),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        for n, call in enumerate(reply.tool_calls)
    ]
    if starts_with_call:
        first["tool_calls"] = [call_starts[0]]
    first["refusal"] = "" if reply.refusal else None
    yield _choice(index, first, {"content": [], "refusal": None} if with_logprobs else None)

    for piece in split_pieces(reply.reasoning):
        yield _choice(index, {reply.reasoning_field: piece}, None)
    for n, piece in enumerate(split_pieces(reply.text)):
        lp = {"content": _token_logprobs([piece], n), "refusal": None} if with_logprobs else None
        yield _choice(index, {"content": piece}, lp)
    for piece in split_pieces(reply.refusal):
        yield _choice(index, {"refusal": piece}, None)
    for n, call in enumerate(reply.tool_calls):
        if n or not starts_with_call:
            yield _choice(index, {"tool_calls": [call_starts[n]]}, None)
        for piece in fixed_pieces(call.arguments_json, _TOOL_ARGUMENT_PIECE):
            fragment = {"index": n, "function": {"arguments": piece}}
            yield _choice(index, {"tool_calls": [fragment]}, None)


def _choice(index: int, delta: dict[str, Any], logprobs: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": None}


def _interleave(per_choice: list[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Round-robin over choices as OpenAI does with ``n > 1``: each choice's
    role chunk and first piece, then one chunk per choice in turn."""
    if len(per_choice) == 1:
        yield from per_choice[0]
        return
    for events in per_choice:
        yield from events[:2]
    position = 2
    while any(position < len(events) for events in per_choice):
        for events in per_choice:
            if position < len(events):
                yield events[position]
        position += 1


def _token_logprobs(pieces: list[str], first: int = 0) -> list[dict[str, Any]]:
    """Made-up but deterministic log probabilities, one per piece."""
    return [
        {
            "token": piece,
            "logprob": round(-0.001 * (1 + (first + n) % 7), 6),
            "bytes": list(piece.encode()),
            "top_logprobs": [],
        }
        for n, piece in enumerate(pieces)
    ]


def _usage(
    script: Script, params: dict[str, Any], replies: tuple[Reply, ...]
) -> dict[str, Any] | None:
    spec = script.usage
    if spec is None or spec is False:
        return None
    if spec is True:
        reasoning = sum(len(split_pieces(r.reasoning)) for r in replies)
        completion = reasoning + sum(_completion_pieces(r) for r in replies)
        prompt, cached = _prompt_words(params), 0
    elif len(spec) == 2:
        prompt, completion = spec
        reasoning = cached = 0
    else:
        prompt, completion, reasoning, cached = spec
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _completion_pieces(reply: Reply) -> int:
    return (
        len(split_pieces(reply.text))
        + len(split_pieces(reply.refusal))
        + sum(len(fixed_pieces(c.arguments_json, _TOOL_ARGUMENT_PIECE)) for c in reply.tool_calls)
    )


def _prompt_words(params: dict[str, Any]) -> int:
    """Words in the request's messages: a stand-in for prompt tokens."""
    words = 0
    messages = params.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            words += len(content.split())
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    words += len(part["text"].split())
    return words
