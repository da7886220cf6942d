"""The OpenAI Chat Completions wire format, spoken by OpenAI and by every
OpenAI-compatible server (vLLM, llama.cpp, Ollama's /v1, Groq, DeepSeek,
Mistral, OpenRouter, Together, Fireworks, Azure OpenAI, ...).

Vendor differences are in the data, not in branches: reasoning arrives as
``reasoning_content`` (DeepSeek, Z.ai) or ``reasoning`` (Groq, OpenRouter);
usage arrives in a final chunk with empty ``choices``, inside the finish chunk
(DeepSeek, Mistral) or in ``x_groq.usage``; errors arrive as ``event: error``
(Groq), as an ``error`` object inside a normal chunk (OpenRouter) or as a JSON
body under an event-stream content type. An Azure first chunk with empty
``choices`` and ``prompt_filter_results`` carries no usage and yields nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._chunks import StreamChunk, ToolCallDelta, text_chunk
from .._errors import ProtocolError
from .._messages import Message
from .._response import ToolCall, Usage
from .._tools import ToolSpec
from ._base import Call
from ._openai_stream import OpenAIStreamDecoder, parse_openai_usage, whole_response
from ._param_support import ParamTable, render_params

__all__ = ["OpenAIChatCodec", "OpenAIChatDecoder", "parse_openai_usage"]

# OpenAI's words are rill's, but for the legacy function_call.
_FINISH = {"function_call": "tool_calls"}
# rill's parameter names are OpenAI's (but max_tokens, see the codec).
_CHAT_PARAMS: ParamTable = {
    "temperature": "temperature",
    "top_p": "top_p",
    "stop": "stop",
    "seed": "seed",
    "n": "n",
    "response_format": "response_format",
    "logprobs": "logprobs",
    "top_logprobs": "top_logprobs",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "parallel_tool_calls": "parallel_tool_calls",
    "reasoning_effort": "reasoning_effort",
    "user": "user",
}


class OpenAIChatCodec:
    """Builds Chat Completions requests and decodes their responses.

    ``max_tokens_field`` is ``max_completion_tokens`` for OpenAI itself (its
    reasoning models reject ``max_tokens``) and ``max_tokens`` elsewhere.
    """

    name = "openai-chat"

    def __init__(self, *, max_tokens_field: str = "max_tokens") -> None:
        self.max_tokens_field = max_tokens_field
        self.supported_params: ParamTable = {"max_tokens": max_tokens_field, **_CHAT_PARAMS}

    def path(self, call: Call) -> str:
        return "/chat/completions"

    def build_body(self, call: Call) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": call.model,
            "messages": [_message_json(m) for m in call.messages],
        }
        render_params(self, call, body)
        if call.tools:
            body["tools"] = [_tool_json(t) for t in call.tools]
        if call.tool_choice is not None:
            body["tool_choice"] = (
                call.tool_choice
                if call.tool_choice in ("auto", "none", "required")
                else {"type": "function", "function": {"name": call.tool_choice}}
            )
        if call.stream:
            body["stream"] = True
            if call.stream_usage:
                body["stream_options"] = {"include_usage": True}
        body.update(call.extra_body)
        return body

    def stream_decoder(self, call: Call) -> OpenAIChatDecoder:
        return OpenAIChatDecoder(call.n, call.provider, max_event_bytes=call.max_event_bytes)

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return decode_whole_chat(body, call.provider or self.name)


def decode_whole_chat(body: bytes, provider: str) -> list[StreamChunk]:
    """A whole Chat Completions response as one chunk per choice, with what
    it did not expect raised as ``ProtocolError``."""
    return whole_response(body, provider, _message_chunk)


def _message_chunk(
    choice: dict[str, Any],
    position: int,
    usage: Usage | None,
    model: str | None,
    rid: str | None,
    obj: dict[str, Any],
) -> StreamChunk:
    message = choice.get("message") or {}
    calls = tool_call_deltas(message.get("tool_calls") or ())
    content = message.get("content") or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    if content.__class__ is not str:
        content, reasoning = _content_parts(content, reasoning)
    native = choice.get("finish_reason")
    return StreamChunk(
        content=content,
        reasoning=reasoning,
        refusal=message.get("refusal") or "",
        tool_calls=calls,
        finish_reason=_FINISH.get(native, native) if native else None,
        index=choice.get("index", position),
        usage=usage,
        model=model,
        id=rid,
        logprobs=_logprobs(choice.get("logprobs")),
        raw=obj,
        native_finish_reason=native,
    )


class OpenAIChatDecoder(OpenAIStreamDecoder):
    """Per-response decoder: SSE bytes -> ``StreamChunk`` per choice delta."""

    __slots__ = ()

    def _choices(
        self,
        obj: dict[str, Any],
        choices: Any,
        usage: Usage | None,
        model: str | None,
        rid: str | None,
        data: bytes,
        out: list[StreamChunk],
    ) -> None:
        single = len(choices) == 1
        for choice in choices:
            delta = choice.get("delta") or {}
            native = choice.get("finish_reason")
            if native is None and len(delta) == 1 and not choice.get("logprobs"):
                # The common case: one text piece and nothing else.
                content = delta.get("content")
                if content.__class__ is str:
                    # raw stays bytes: the parsed event is garbage at once.
                    out.append(
                        text_chunk(
                            content,
                            choice.get("index", 0),
                            usage,
                            model,
                            rid,
                            data if single else obj,
                        )
                    )
                    usage = None
                    continue
            out.append(self._chunk(obj, choice, delta, native, usage, model, rid))
            usage = None  # reported once, on the first choice's chunk

    def _chunk(
        self,
        obj: dict[str, Any],
        choice: dict[str, Any],
        delta: dict[str, Any],
        native: str | None,
        usage: Usage | None,
        model: str | None,
        rid: str | None,
    ) -> StreamChunk:
        index = choice.get("index", 0)
        if native:
            self._finished.add(index)
        calls = delta.get("tool_calls")
        lp = choice.get("logprobs")
        content = delta.get("content") or ""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        if content.__class__ is not str:
            content, reasoning = _content_parts(content, reasoning)
        return StreamChunk(
            content=content,
            reasoning=reasoning,
            refusal=delta.get("refusal") or "",
            tool_calls=tool_call_deltas(calls) if calls else (),
            finish_reason=_FINISH.get(native, native) if native else None,
            index=index,
            usage=usage,
            model=model,
            id=rid,
            logprobs=_logprobs(lp) if lp else None,
            raw=obj,
            native_finish_reason=native,
        )

    def _decode_whole(self, body: bytes) -> list[StreamChunk]:
        return decode_whole_chat(body, self._provider)


def _content_parts(parts: Any, reasoning: str) -> tuple[str, str]:
    """Content sent as a list of typed parts (Mistral's Magistral puts its
    thinking there): text parts are content, thinking parts are reasoning."""
    if not isinstance(parts, list):
        raise ProtocolError(f"unexpected message content {parts!r:.200}")
    text: list[str] = []
    thought: list[str] = [reasoning] if reasoning else []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            text.append(part.get("text") or "")
        elif kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                thought.append(inner)
            elif isinstance(inner, list):
                thought.extend(p.get("text") or "" for p in inner if isinstance(p, dict))
    return "".join(text), "".join(thought)


def tool_call_deltas(calls: Iterable[dict[str, Any]]) -> tuple[ToolCallDelta, ...]:
    """OpenAI-shaped tool calls (``{"index", "id", "function": {"name",
    "arguments"}}``, streamed fragments or whole calls of a message) as
    deltas; a call without ``index`` is numbered by its position."""
    deltas = []
    for position, tc in enumerate(calls):
        fn = tc.get("function") or {}
        deltas.append(
            ToolCallDelta(
                tc.get("index", position), tc.get("id"), fn.get("name"), fn.get("arguments") or ""
            )
        )
    return tuple(deltas)


def _logprobs(lp: Any) -> list[Any] | None:
    """Token logprobs of a choice: content tokens, or refusal tokens when the
    model refused (each entry keeps its provider shape)."""
    if not isinstance(lp, dict):
        return None
    tokens = lp.get("content") or lp.get("refusal")
    return list(tokens) if tokens else None


def _message_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role.value, "content": message.content}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        out["tool_calls"] = [_tool_call_json(tc) for tc in message.tool_calls]
        if message.content == "":
            out["content"] = None
    return out


def _tool_json(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.schema}
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_call_json(call: Any) -> Any:
    if isinstance(call, ToolCall):
        return {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
    return call
