"""Cohere v2 chat (``/v2/chat``), encoded from a ``Script`` (sans-IO).

Like the real API (compare ``../shared/fixtures/wire/other/cohere-v2-*``):
``event: <type>\\ndata: <compact JSON with the same type>\\n\\n`` frames with
hyphenated names; ``message-start`` carries the id and an empty message;
reasoning streams as ``tool-plan-delta`` when the reply calls tools and as a
``thinking`` content block otherwise; text is a ``content-start`` /
``content-delta`` / ``content-end`` block; each tool call is
``tool-call-start`` (id, name, empty arguments), ``tool-call-delta`` pieces
and ``tool-call-end``; ``message-end`` has the upper-case finish reason and
usage (``billed_units`` and ``tokens``); a bare ``data: [DONE]`` ends it.
Cohere streams only when the request says ``"stream": true``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson

from ._intent import Intent, forced_function, function_tools, text_of
from ._script import RecordedRequest, Reply, Script, split_pieces

__all__ = ["CohereEncoder"]

_ARGUMENT_PIECE = 6
_DONE = b"data: [DONE]\n\n"
_FINISH = {
    "stop": "COMPLETE",
    "length": "MAX_TOKENS",
    "tool_calls": "TOOL_CALL",
    "error": "ERROR",
    "content_filter": "ERROR_TOXIC",
}


class CohereEncoder:
    """Encodes scripts for ``POST /v2/chat``."""

    protocol = "Cohere v2 chat"
    base_path = ""
    routes = (re.compile(r"/v2/chat"),)

    def validate(self, request: RecordedRequest) -> str | None:
        """Cohere's message for a request it would refuse with a 400, or None."""
        params = request.json
        if not isinstance(params, dict):
            return "invalid request: the body must be a JSON object"
        if not isinstance(params.get("model"), str) or not params["model"]:
            return "invalid request: model must be specified"
        messages = params.get("messages")
        if not isinstance(messages, list) or not messages:
            return "invalid request: messages must contain at least one message"
        return None

    def intent(self, request: RecordedRequest) -> Intent:
        params = request.params
        messages = [m for m in params.get("messages") or () if isinstance(m, dict)]
        users = [m for m in messages if m.get("role") == "user"]
        fmt = params.get("response_format")
        fmt = fmt if isinstance(fmt, dict) else {}
        schema = fmt.get("json_schema")
        thinking = params.get("thinking")
        return Intent(
            model=str(params.get("model") or ""),
            prompt=text_of(users[-1].get("content")) if users else "",
            tools=function_tools(params.get("tools")),
            forced_tool=forced_function(params.get("tool_choice")),
            schema=schema if isinstance(schema, dict) else None,
            json=fmt.get("type") == "json_object",
            reasoning=isinstance(thinking, dict) and thinking.get("type") == "enabled",
            answering_tool=bool(messages) and messages[-1].get("role") == "tool",
        )

    def wants_stream(self, request: RecordedRequest) -> bool:
        return isinstance(request.json, dict) and request.json.get("stream") is True

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """The SSE frames of a streamed response."""
        reply = script.replies[0]
        frames = [
            _event(
                {
                    "id": _response_id(seq),
                    "type": "message-start",
                    "delta": {
                        "message": {
                            "role": "assistant",
                            "content": [],
                            "tool_plan": "",
                            "tool_calls": [],
                            "citations": [],
                        }
                    },
                }
            )
        ]
        index = 0
        if reply.reasoning and reply.tool_calls:
            frames += [
                _event({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
                for piece in split_pieces(reply.reasoning)
            ]
        elif reply.reasoning:
            frames += _block(index, "thinking", reply.reasoning)
            index += 1
        if reply.text:
            frames += _block(index, "text", reply.text)
        for n, call in enumerate(reply.tool_calls):
            start = {
                "id": call.id or f"{call.name}_{seq:04d}{n}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            frames.append(_tool_event("tool-call-start", n, start))
            text = call.arguments_json
            for i in range(0, len(text), _ARGUMENT_PIECE):
                piece = {"function": {"arguments": text[i : i + _ARGUMENT_PIECE]}}
                frames.append(_tool_event("tool-call-delta", n, piece))
            frames.append(_event({"type": "tool-call-end", "index": n}))
        end: dict[str, Any] = {"finish_reason": _finish(reply)}
        usage = _usage(script, request, reply)
        if usage is not None:
            end["usage"] = usage
        frames.append(_event({"type": "message-end", "delta": end}))
        frames.append(_DONE)
        return frames

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The JSON body of a non-streamed response."""
        reply = script.replies[0]
        message: dict[str, Any] = {"role": "assistant"}
        content = []
        if reply.reasoning and not reply.tool_calls:
            content.append({"type": "thinking", "thinking": reply.reasoning})
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        if content:
            message["content"] = content
        if reply.tool_calls:
            if reply.reasoning:
                message["tool_plan"] = reply.reasoning
            message["tool_calls"] = [
                {
                    "id": call.id or f"{call.name}_{seq:04d}{n}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for n, call in enumerate(reply.tool_calls)
            ]
        body: dict[str, Any] = {
            "id": _response_id(seq),
            "message": message,
            "finish_reason": _finish(reply),
        }
        usage = _usage(script, request, reply)
        if usage is not None:
            body["usage"] = usage
        return orjson.dumps(body)

    def error(self, status: int, message: str) -> bytes:
        """Cohere's error body: an id and a message."""
        return orjson.dumps({"id": str(uuid.UUID(int=status)), "message": message})


def _event(obj: dict[str, Any]) -> bytes:
    kind = str(obj["type"]).encode()
    return b"event: " + kind + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def _tool_event(kind: str, index: int, call: dict[str, Any]) -> bytes:
    return _event({"type": kind, "index": index, "delta": {"message": {"tool_calls": call}}})


def _block(index: int, kind: str, text: str) -> list[bytes]:
    frames = [
        _event(
            {
                "type": "content-start",
                "index": index,
                "delta": {"message": {"content": {"type": kind, kind: ""}}},
            }
        )
    ]
    frames += [
        _event(
            {
                "type": "content-delta",
                "index": index,
                "delta": {"message": {"content": {kind: piece}}},
            }
        )
        for piece in split_pieces(text)
    ]
    frames.append(_event({"type": "content-end", "index": index}))
    return frames


def _finish(reply: Reply) -> str:
    finish = reply.effective_finish_reason
    return _FINISH.get(finish, finish.upper())


def _response_id(seq: int) -> str:
    return str(uuid.UUID(int=seq))


def _usage(script: Script, request: RecordedRequest, reply: Reply) -> dict[str, Any] | None:
    spec = script.usage
    if spec is None or spec is False:
        return None
    if spec is True:
        completion = len(split_pieces(reply.reasoning)) + len(split_pieces(reply.text))
        completion += sum(len(c.arguments_json) // _ARGUMENT_PIECE + 1 for c in reply.tool_calls)
        prompt = _prompt_words(request)
    else:
        prompt, completion = spec[0], spec[1]
    counts = {"input_tokens": prompt, "output_tokens": completion}
    return {"billed_units": dict(counts), "tokens": counts}


def _prompt_words(request: RecordedRequest) -> int:
    params = request.json if isinstance(request.json, dict) else {}
    words = 0
    for message in params.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            words += len(content.split())
    return words
