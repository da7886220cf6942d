"""Ollama's native API (``/api/chat`` and ``/api/generate``), encoded from a
``Script`` (sans-IO).

Like the real server (compare ``../shared/fixtures/wire/ollama``): NDJSON,
one compact JSON object per ``\\n``-terminated line; every line names the
model and ``created_at``; thinking streams before text, in lines whose
``content`` (or ``response``) is empty; tool calls arrive complete, all in one
line, with arguments as a JSON object (and an ``id`` only when the script
gives one, as older servers sent none); the last line has ``done: true``,
``done_reason`` (``stop`` for tool calls too), the token counts and
nanosecond durations, and for ``/api/generate`` a ``context`` token array.
Ollama streams unless the request says ``"stream": false``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ._intent import Intent, function_tools, text_of
from ._script import RecordedRequest, Reply, Script, answering_model, split_pieces

__all__ = ["OllamaChatEncoder", "OllamaGenerateEncoder"]

_LOAD_NS = 1_250_000
_PROMPT_NS_PER_TOKEN = 1_000_000
_EVAL_NS_PER_TOKEN = 20_000_000


class OllamaChatEncoder:
    """Encodes scripts for ``POST /api/chat``."""

    content_type = "application/x-ndjson"
    generate = False
    protocol = "Ollama chat"
    base_path = ""
    routes = (re.compile(r"/api/chat"),)

    def validate(self, request: RecordedRequest) -> str | None:
        """Ollama's message for a request it would refuse with a 400, or None."""
        params = request.json
        if not isinstance(params, dict):
            return "invalid request body"
        if not isinstance(params.get("model"), str) or not params["model"]:
            return "model is required"
        if self.generate:
            return None
        messages = params.get("messages", [])
        if not isinstance(messages, list):
            return "messages must be an array"
        for message in messages:
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("system", "user", "assistant", "tool"):
                return f"invalid role: {role!r}"
        return None

    def intent(self, request: RecordedRequest) -> Intent:
        params = request.params
        messages = [m for m in params.get("messages") or () if isinstance(m, dict)]
        users = [m for m in messages if m.get("role") == "user"]
        prompt = params.get("prompt") if self.generate else None
        fmt = params.get("format")
        return Intent(
            model=str(params.get("model") or ""),
            prompt=prompt
            if isinstance(prompt, str)
            else text_of(users[-1].get("content"))
            if users
            else "",
            tools=() if self.generate else function_tools(params.get("tools")),
            schema=fmt if isinstance(fmt, dict) else None,
            json=fmt == "json",
            reasoning=params.get("think") not in (None, False),
            answering_tool=bool(messages) and messages[-1].get("role") == "tool",
        )

    def wants_stream(self, request: RecordedRequest) -> bool:
        return not (isinstance(request.json, dict) and request.json.get("stream") is False)

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """One NDJSON line per piece of thinking or text, one for the tool
        calls, and the final line."""
        params = request.params
        reply = script.replies[0]
        model = answering_model(script, params.get("model"))
        bodies = [self._piece("", piece) for piece in split_pieces(reply.reasoning)]
        bodies += [self._piece(piece, "") for piece in split_pieces(reply.text)]
        if reply.tool_calls and not self.generate:
            bodies.append(
                {
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": _tool_calls(reply),
                    }
                }
            )
        lines = [
            _line({"model": model, "created_at": _stamp(created, n), **body, "done": False})
            for n, body in enumerate(bodies)
        ]
        final = {"model": model, "created_at": _stamp(created, len(bodies))}
        final.update(self._piece("", ""))
        final.update(_final(script, params, reply, self.generate))
        lines.append(_line(final))
        return lines

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The single object of a non-streamed response."""
        params = request.params
        reply = script.replies[0]
        body: dict[str, Any] = {
            "model": answering_model(script, params.get("model")),
            "created_at": _stamp(created, 0),
        }
        body.update(self._piece(reply.text, reply.reasoning))
        if reply.tool_calls and not self.generate:
            body["message"]["tool_calls"] = _tool_calls(reply)
        body.update(_final(script, params, reply, self.generate))
        return orjson.dumps(body)

    def error(self, status: int, message: str) -> bytes:
        """Ollama's error body: ``{"error": "..."}``."""
        return orjson.dumps({"error": message})

    def _piece(self, text: str, thinking: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        return {"message": message}


class OllamaGenerateEncoder(OllamaChatEncoder):
    """Encodes scripts for ``POST /api/generate`` (tool calls are not part of
    that API and are left out)."""

    generate = True
    protocol = "Ollama generate"
    routes = (re.compile(r"/api/generate"),)

    def _piece(self, text: str, thinking: str) -> dict[str, Any]:
        piece: dict[str, Any] = {"response": text}
        if thinking:
            piece["thinking"] = thinking
        return piece


def _line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


def _stamp(created: int, n: int) -> str:
    """``created_at`` of the n-th line: 32 ms apart, like a local model."""
    when = datetime.fromtimestamp(created, UTC) + timedelta(milliseconds=32 * n)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    calls = []
    for index, call in enumerate(reply.tool_calls):
        text = call.arguments_json
        try:
            arguments: Any = orjson.loads(text or "{}")
        except orjson.JSONDecodeError:
            arguments = text
        out: dict[str, Any] = {}
        if call.id:
            out["id"] = call.id
        out["function"] = {"index": index, "name": call.name, "arguments": arguments}
        calls.append(out)
    return calls


def _final(script: Script, params: dict[str, Any], reply: Reply, generate: bool) -> dict[str, Any]:
    finish = reply.effective_finish_reason
    out: dict[str, Any] = {
        "done_reason": "stop" if finish == "tool_calls" else finish,
        "done": True,
    }
    counts = _counts(script, params, reply, generate)
    prompt, completion = counts if counts is not None else (0, 0)
    if generate:
        out["context"] = list(range(1, prompt + completion + 1))
    prompt_ns = _PROMPT_NS_PER_TOKEN * max(prompt, 1)
    eval_ns = _EVAL_NS_PER_TOKEN * max(completion, 1)
    out["total_duration"] = _LOAD_NS + prompt_ns + eval_ns
    out["load_duration"] = _LOAD_NS
    if counts is not None:
        out["prompt_eval_count"] = prompt
    out["prompt_eval_duration"] = prompt_ns
    if counts is not None:
        out["eval_count"] = completion
    out["eval_duration"] = eval_ns
    return out


def _counts(
    script: Script, params: dict[str, Any], reply: Reply, generate: bool
) -> tuple[int, int] | None:
    spec = script.usage
    if spec is None or spec is False:
        return None
    if spec is True:
        completion = len(split_pieces(reply.reasoning)) + len(split_pieces(reply.text))
        calls = 0 if generate else len(reply.tool_calls)
        return _prompt_words(params), completion + calls
    return spec[0], spec[1]


def _prompt_words(params: dict[str, Any]) -> int:
    words = 0
    prompt = params.get("prompt")
    if isinstance(prompt, str):
        words += len(prompt.split())
    system = params.get("system")
    if isinstance(system, str):
        words += len(system.split())
    messages = params.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            words += len(content.split())
    return words
