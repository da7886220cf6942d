"""Anthropic Messages, encoded from a ``Script`` (sans-IO).

The output follows the real wire format (compare
``../shared/fixtures/wire/anthropic``): every event has an ``event:`` line and
a ``data:`` line with compact JSON of the same ``type``; ``message_start``
carries the id, model and input usage; a ``ping`` follows the first block's
start; each block is ``content_block_start`` / deltas / ``content_block_stop``
(thinking with a ``signature_delta`` before its stop, tool inputs as
``input_json_delta`` pieces after an empty one); ``message_delta`` carries the
stop reason and cumulative usage; ``message_stop`` ends the stream, with no
``[DONE]``.

Anthropic has one completion per request, so only a script's first reply is
used. Its refusal text is sent as text with ``stop_reason: "refusal"``, as
Anthropic reports refusals; rill's finish reasons are translated back to
Anthropic's stop reasons.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import orjson

from ._intent import Intent, forced_function, function_tools, text_of
from ._script import RecordedRequest, Reply, Script, answering_model, fixed_pieces, split_pieces

__all__ = ["AnthropicEncoder"]

_TOOL_ARGUMENT_PIECE = 4  # characters per input_json_delta piece
_PING = b'event: ping\ndata: {"type": "ping"}\n\n'

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "refusal": "refusal",
}

# Anthropic's error types, by HTTP status.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class AnthropicEncoder:
    """Encodes scripts for ``POST /v1/messages``."""

    protocol = "Anthropic Messages"
    base_path = ""
    routes = (re.compile(r"/v1/messages"),)

    def validate(self, request: RecordedRequest) -> str | None:
        """Anthropic's message for a request it would refuse with a 400, or None."""
        params = request.json
        if not isinstance(params, dict):
            return "The request body must be a JSON object."
        for name in ("model", "max_tokens", "messages"):
            if name not in params:
                return f"{name}: Field required"
        if not isinstance(params["max_tokens"], int) or params["max_tokens"] < 1:
            return "max_tokens: Input should be a valid integer greater than or equal to 1"
        messages = params["messages"]
        if not isinstance(messages, list):
            return "messages: Input should be a valid list"
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        return None

    def intent(self, request: RecordedRequest) -> Intent:
        params = request.params
        messages = [m for m in params.get("messages") or () if isinstance(m, dict)]
        users = [m for m in messages if m.get("role") == "user"]
        last = messages[-1].get("content") if messages else None
        answering = isinstance(last, list) and any(
            isinstance(part, dict) and part.get("type") == "tool_result" for part in last
        )
        thinking = params.get("thinking")
        return Intent(
            model=str(params.get("model") or ""),
            prompt=text_of(users[-1].get("content")) if users else "",
            tools=function_tools(params.get("tools")),
            forced_tool=forced_function(params.get("tool_choice")),
            reasoning=isinstance(thinking, dict) and thinking.get("type") != "disabled",
            answering_tool=answering,
        )

    def wants_stream(self, request: RecordedRequest) -> bool:
        return isinstance(request.json, dict) and request.json.get("stream") is True

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """The SSE frames of a streamed response, one event per item."""
        params = request.params
        reply = script.replies[0]
        usage = _usage(script, params, reply)
        message: dict[str, Any] = {
            "id": _message_id(seq),
            "type": "message",
            "role": "assistant",
            "model": answering_model(script, params.get("model")),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        if usage is not None:
            start_usage = {k: v for k, v in usage.items() if k != "output_tokens_details"}
            message["usage"] = {**start_usage, "output_tokens": 1}
        frames = [_frame({"type": "message_start", "message": message})]
        for index, (start, deltas) in enumerate(_blocks(reply, seq)):
            frames.append(
                _frame({"type": "content_block_start", "index": index, "content_block": start})
            )
            if index == 0:
                frames.append(_PING)
            frames.extend(
                _frame({"type": "content_block_delta", "index": index, "delta": delta})
                for delta in deltas
            )
            frames.append(_frame({"type": "content_block_stop", "index": index}))
        delta: dict[str, Any] = {"type": "message_delta"}
        delta["delta"] = {"stop_reason": _stop_reason(reply), "stop_sequence": None}
        if usage is not None:
            delta["usage"] = usage
        frames.append(_frame(delta))
        frames.append(_frame({"type": "message_stop"}))
        return frames

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The JSON body of a non-streamed response."""
        params = request.params
        reply = script.replies[0]
        content = [_complete_block(start, deltas) for start, deltas in _blocks(reply, seq)]
        body: dict[str, Any] = {
            "id": _message_id(seq),
            "type": "message",
            "role": "assistant",
            "model": answering_model(script, params.get("model")),
            "content": content,
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
        }
        usage = _usage(script, params, reply)
        if usage is not None:
            body["usage"] = usage
        return orjson.dumps(body)

    def error(self, status: int, message: str) -> bytes:
        """An Anthropic-style error body for ``status``."""
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return orjson.dumps(
            {
                "type": "error",
                "error": {"type": kind, "message": message},
                "request_id": "req_rill_emulator",
            }
        )


def _frame(event: dict[str, Any]) -> bytes:
    name: str = event["type"]
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _message_id(seq: int) -> str:
    return f"msg_rill{seq:06d}"


def _stop_reason(reply: Reply) -> str:
    if reply.refusal and reply.finish_reason is None:
        return "refusal"
    reason = reply.effective_finish_reason
    return _STOP_REASONS.get(reason, reason)


def _signature(reasoning: str) -> str:
    """A made-up but deterministic signature for a thinking block."""
    return hashlib.sha256(reasoning.encode()).hexdigest()


Block = tuple[dict[str, Any], list[dict[str, Any]]]


def _blocks(reply: Reply, seq: int) -> Iterator[Block]:
    """Each content block of a reply: its start and its deltas."""
    if reply.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in split_pieces(reply.reasoning)]
        deltas.append({"type": "signature_delta", "signature": _signature(reply.reasoning)})
        yield {"type": "thinking", "thinking": "", "signature": ""}, deltas
    text = reply.text + reply.refusal
    if text:
        yield (
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": p} for p in split_pieces(text)],
        )
    for n, call in enumerate(reply.tool_calls):
        start = {
            "type": "tool_use",
            "id": call.id or f"toolu_rill{seq:06d}_{n + 1}",
            "name": call.name,
            "input": {},
        }
        arguments = call.arguments_json
        pieces = fixed_pieces(arguments, _TOOL_ARGUMENT_PIECE)
        yield start, [{"type": "input_json_delta", "partial_json": p} for p in ["", *pieces]]


def _complete_block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> dict[str, Any]:
    block = dict(start)
    kind = block["type"]
    if kind == "thinking":
        block["thinking"] = "".join(d.get("thinking", "") for d in deltas)
        block["signature"] = deltas[-1]["signature"]
    elif kind == "text":
        block["text"] = "".join(d["text"] for d in deltas)
    else:
        arguments = "".join(d["partial_json"] for d in deltas)
        block["input"] = orjson.loads(arguments) if arguments.strip() else {}
    return block


def _output_pieces(reply: Reply) -> int:
    return (
        len(split_pieces(reply.reasoning))
        + len(split_pieces(reply.text + reply.refusal))
        + sum(-(-len(c.arguments_json) // _TOOL_ARGUMENT_PIECE) for c in reply.tool_calls)
    )


def _usage(script: Script, params: dict[str, Any], reply: Reply) -> dict[str, Any] | None:
    """Anthropic's usage object: ``input_tokens`` is the uncached part of the prompt."""
    spec = script.usage
    if spec is None or spec is False:
        return None
    if spec is True:
        reasoning = len(split_pieces(reply.reasoning))
        prompt, completion, cached = _prompt_words(params), _output_pieces(reply), 0
    elif len(spec) == 2:
        prompt, completion = spec
        reasoning = cached = 0
    else:
        prompt, completion, reasoning, cached = spec
    usage: dict[str, Any] = {
        "input_tokens": prompt - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": completion,
    }
    if reasoning:
        usage["output_tokens_details"] = {"thinking_tokens": reasoning}
    return usage


def _prompt_words(params: dict[str, Any]) -> int:
    """Words in the request's system prompt and messages: a stand-in for input tokens."""
    words = 0
    system = params.get("system")
    contents: list[Any] = [system] if system is not None else []
    messages = params.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict):
            contents.append(message.get("content"))
    for content in contents:
        if isinstance(content, str):
            words += len(content.split())
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    words += len(part["text"].split())
    return words
