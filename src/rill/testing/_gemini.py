"""Gemini ``generateContent``, encoded from a ``Script`` (sans-IO).

Byte conventions follow the recordings in ``../shared/fixtures/wire/gemini``:
with ``?alt=sse``, ``data: <json>\\r\\n\\r\\n`` frames (CRLF), no ``[DONE]``,
JSON with a space after each colon and none after commas, ``<`` and ``>``
escaped as ``\\u003c`` / ``\\u003e``; without ``alt=sse``, one pretty-printed
JSON array whose elements are separated by ``\\n,\\r\\n``; errors and the
non-streamed body pretty-printed.

What a reply becomes: thought parts (``thought: true``) for its reasoning,
text parts for its text (and its refusal: Gemini has no refusal channel),
then every function call in one element, as Gemini sends parallel calls.
Scripted call ids are sent as ``functionCall.id``; without one, Gemini sends
none. Like Gemini 2.5, the first part after the thoughts carries a
``thoughtSignature``; like Gemini 3, so does the first function call. The
signatures are made up but deterministic. ``usageMetadata`` is on every
element, as a running total; the last element of each candidate carries its
``finishReason``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

from ._intent import Intent, ToolAsked, text_of
from ._script import RecordedRequest, Reply, Script, answering_model, split_pieces

__all__ = ["GeminiEncoder"]

_FINISH = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "refusal": "SAFETY",
    "error": "OTHER",
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class GeminiEncoder:
    """Encodes scripts for ``POST .../models/<model>:streamGenerateContent``
    and ``:generateContent`` (Gemini API and Vertex AI paths alike)."""

    protocol = "Gemini API"
    base_path = "/v1beta"
    routes = (
        re.compile(
            r"/v1(beta)?/(models|tunedModels)/[^/:]+:(streamGenerateContent|generateContent)"
        ),
        re.compile(
            r"/v1(beta1)?/projects/[^/]+/locations/[^/]+/(publishers/[^/]+/models|endpoints)"
            r"/[^/:]+:(streamGenerateContent|generateContent)"
        ),
    )

    def validate(self, request: RecordedRequest) -> str | None:
        """Gemini's message for a request it would refuse with a 400, or None."""
        params = request.json
        if not isinstance(params, dict):
            return "Invalid JSON payload received. The body must be a JSON object."
        contents = params.get("contents")
        if not isinstance(contents, list) or not contents:
            return "* GenerateContentRequest.contents: contents is not specified"
        for i, content in enumerate(contents):
            role = content.get("role", "user") if isinstance(content, dict) else None
            if role not in ("user", "model", "function"):
                return f"Please use a valid role: user, model. (contents[{i}].role: {role!r})"
        return None

    def intent(self, request: RecordedRequest) -> Intent:
        params = request.params
        contents = [c for c in params.get("contents") or () if isinstance(c, dict)]
        users = [c for c in contents if c.get("role", "user") == "user"]
        last_parts = contents[-1].get("parts") if contents else None
        answering = isinstance(last_parts, list) and any(
            isinstance(p, dict) and "functionResponse" in p for p in last_parts
        )
        tools = []
        for group in params.get("tools") or ():
            for fn in group.get("functionDeclarations") or () if isinstance(group, dict) else ():
                schema = fn.get("parametersJsonSchema") or fn.get("parameters") or {}
                tools.append(ToolAsked(str(fn.get("name")), schema))
        config = params.get("toolConfig", {}).get("functionCallingConfig") or {}
        allowed = config.get("allowedFunctionNames") if config.get("mode") == "ANY" else None
        generation = params.get("generationConfig") or {}
        schema = generation.get("responseJsonSchema") or generation.get("responseSchema")
        thinking = generation.get("thinkingConfig") or {}
        return Intent(
            model=_requested_model(request),
            prompt=text_of(users[-1].get("parts")) if users else "",
            tools=tuple(tools),
            forced_tool=allowed[0] if isinstance(allowed, list) and allowed else None,
            schema=schema if isinstance(schema, dict) else None,
            json=generation.get("responseMimeType") == "application/json",
            reasoning=bool(thinking.get("includeThoughts")),
            answering_tool=answering,
        )

    def wants_stream(self, request: RecordedRequest) -> bool:
        return request.path.endswith(":streamGenerateContent")

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """SSE frames with ``alt=sse``; otherwise the pieces of a JSON array."""
        elements = list(_elements(script, request, seq))
        if request.query.get("alt") == "sse":
            return [b"data: " + _compact(e) + b"\r\n\r\n" for e in elements]
        if not elements:
            return [b"[]"]
        frames = [(b"[" if i == 0 else b"\n,\r\n") + _pretty(e) for i, e in enumerate(elements)]
        frames.append(b"\n]")
        return frames

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The JSON body of a ``generateContent`` response."""
        replies = _replies(script, request)
        candidates = []
        for index, reply in enumerate(replies):
            parts: list[dict[str, Any]] = []
            if reply.reasoning:
                parts.append({"text": reply.reasoning, "thought": True})
            text = reply.text + reply.refusal
            if text:
                parts.append({"text": text})
            parts.extend(_call_parts(reply, seq, index))
            if reply.reasoning and len(parts) > 1:
                parts[1].setdefault("thoughtSignature", _signature(seq, index, "text"))
            if not parts:
                parts.append({"text": ""})
            candidates.append(
                {
                    "content": {"parts": parts, "role": "model"},
                    "finishReason": _FINISH.get(reply.effective_finish_reason, "STOP"),
                    "index": index,
                }
            )
        body: dict[str, Any] = {"candidates": candidates}
        usage = _final_usage(script, request, replies)
        if usage is not None:
            body["usageMetadata"] = usage
        body["modelVersion"] = answering_model(
            script, request.path.rpartition("/models/")[2].partition(":")[0]
        )
        body["responseId"] = _response_id(seq)
        return _pretty(body)

    def error(self, status: int, message: str) -> bytes:
        """A Gemini error body, pretty-printed as Google sends it."""
        kind = _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return _pretty({"error": {"code": status, "message": message, "status": kind}})


def _elements(script: Script, request: RecordedRequest, seq: int) -> Iterator[dict[str, Any]]:
    """The ``GenerateContentResponse`` elements of a streamed response."""
    replies = _replies(script, request)
    per_candidate = [list(_candidate_events(r, seq, i)) for i, r in enumerate(replies)]
    model = answering_model(script, _requested_model(request))
    rid = _response_id(seq)
    spec = script.usage
    prompt = _prompt_words(request)
    counted = {"candidates": 0, "thoughts": 0}
    events = list(_interleave(per_candidate))
    for position, (candidate, kind, size) in enumerate(events):
        counted[kind] += size
        element: dict[str, Any] = {"candidates": [candidate]}
        if spec is True:
            element["usageMetadata"] = _usage(prompt, counted["candidates"], counted["thoughts"])
        elif spec:
            last = position == len(events) - 1
            element["usageMetadata"] = (
                _final_usage(script, request, replies)
                if last
                else {"promptTokenCount": spec[0], "totalTokenCount": spec[0]}
            )
        element["modelVersion"] = model
        element["responseId"] = rid
        yield element


def _candidate_events(
    reply: Reply, seq: int, index: int
) -> Iterator[tuple[dict[str, Any], str, int]]:
    """(candidate object, which token count grows, by how much) per element."""
    signed = not reply.reasoning
    pending: list[tuple[list[dict[str, Any]], str, int]] = []
    for piece in split_pieces(reply.reasoning):
        pending.append(([{"text": piece, "thought": True}], "thoughts", 1))
    for piece in split_pieces(reply.text + reply.refusal):
        part: dict[str, Any] = {"text": piece}
        if not signed:
            part["thoughtSignature"] = _signature(seq, index, "text")
            signed = True
        pending.append(([part], "candidates", 1))
    if reply.tool_calls:
        calls = _call_parts(reply, seq, index)  # the first one is signed
        pending.append((calls, "candidates", len(calls)))
    if not pending:
        pending.append(([{"text": ""}], "candidates", 0))
    finish = _FINISH.get(reply.effective_finish_reason, "STOP")
    for position, (parts, kind, size) in enumerate(pending):
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if position == len(pending) - 1:
            candidate["finishReason"] = finish
        candidate["index"] = index
        yield candidate, kind, size


def _call_parts(reply: Reply, seq: int, index: int) -> list[dict[str, Any]]:
    parts = []
    for n, call in enumerate(reply.tool_calls):
        function: dict[str, Any] = {
            "name": call.name,
            "args": json.loads(call.arguments_json or "{}"),
        }
        if call.id:
            function["id"] = call.id
        part: dict[str, Any] = {"functionCall": function}
        if n == 0:
            part["thoughtSignature"] = _signature(seq, index, "call")
        parts.append(part)
    return parts


def _interleave(
    per_candidate: list[list[tuple[dict[str, Any], str, int]]],
) -> Iterator[tuple[dict[str, Any], str, int]]:
    position = 0
    while any(position < len(events) for events in per_candidate):
        for events in per_candidate:
            if position < len(events):
                yield events[position]
        position += 1


def _replies(script: Script, request: RecordedRequest) -> tuple[Reply, ...]:
    """One reply per candidate: a single scripted reply answers all ``candidateCount``."""
    if len(script.replies) == 1:
        params = request.json if isinstance(request.json, dict) else {}
        config = params.get("generationConfig")
        n = config.get("candidateCount") if isinstance(config, dict) else None
        if isinstance(n, int) and n > 1:
            return script.replies * n
    return script.replies


def _usage(prompt: int, candidates: int, thoughts: int, cached: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates:
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = prompt + candidates + thoughts
    if cached:
        usage["cachedContentTokenCount"] = cached
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _final_usage(
    script: Script, request: RecordedRequest, replies: tuple[Reply, ...]
) -> dict[str, Any] | None:
    spec = script.usage
    if spec is None or spec is False:
        return None
    if spec is True:
        thoughts = sum(len(split_pieces(r.reasoning)) for r in replies)
        candidates = sum(len(split_pieces(r.text + r.refusal)) + len(r.tool_calls) for r in replies)
        return _usage(_prompt_words(request), candidates, thoughts)
    if len(spec) == 2:
        prompt, completion = spec
        return _usage(prompt, completion, 0)
    prompt, completion, reasoning, cached = spec
    return _usage(prompt, completion - reasoning, reasoning, cached)


def _prompt_words(request: RecordedRequest) -> int:
    """Words in the request's texts: a stand-in for prompt tokens."""
    params = request.json if isinstance(request.json, dict) else {}
    words = 0
    contents = params.get("contents")
    system = params.get("systemInstruction")
    turns = [*(contents if isinstance(contents, list) else ()), system]
    for turn in turns:
        parts = turn.get("parts") if isinstance(turn, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                words += len(part["text"].split())
    return words


def _response_id(seq: int) -> str:
    return f"rill{seq:06d}emulatorGemini"


def _signature(seq: int, index: int, where: str) -> str:
    return base64.b64encode(f"rill-signature/{seq}/{index}/{where}".encode()).decode()


def _compact(obj: Any) -> bytes:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ": "))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").encode()


def _pretty(obj: Any) -> bytes:
    text = json.dumps(obj, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").encode()


def _requested_model(request: RecordedRequest) -> str:
    """Gemini names the model in the path: ``.../models/<model>:streamGenerateContent``."""
    return request.path.rpartition("/models/")[2].partition(":")[0]
