"""Cohere's v2 chat API: ``cohere/<model>`` (``POST /v2/chat``).

Endpoint: ``https://api.cohere.com`` (``CO_API_URL`` overrides it), key from
``CO_API_KEY`` or ``COHERE_API_KEY`` as a bearer token.

Requests: messages keep the OpenAI shapes Cohere shares (system, user with
text or content parts, assistant with ``tool_calls`` whose arguments are JSON
text, tool results with ``tool_call_id``). An assistant turn's ``reasoning``
goes back as ``tool_plan`` when the turn called tools (that is where it came
from, see ``_cohere_stream``), otherwise as a ``thinking`` content part; its
``cohere_citation`` items go back as ``citations``. Parameters: ``top_p`` is
``p``, ``stop`` is ``stop_sequences``, ``reasoning_effort`` turns ``thinking``
on (or off for ``"none"``), ``response_format`` maps to Cohere's
``json_object`` with an optional ``json_schema``. ``tool_choice``:
``required`` and ``none`` are Cohere's ``REQUIRED`` and ``NONE``; naming one
tool sends only that tool, with ``REQUIRED``. ``n > 1``, ``top_logprobs``,
``parallel_tool_calls=False`` and ``user`` are refused at the call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from .._chunks import StreamChunk
from .._errors import InvalidRequestError
from .._messages import Message, MessageRole
from .._response import ToolCall
from .._tools import ToolSpec
from ._base import Call
from ._cohere_stream import CITATION_ITEM, CohereDecoder, decode_response
from ._param_support import ParamTable, Refused, listed, render_params
from ._provider import Provider

__all__ = ["CohereCodec", "providers"]

_CHOICE = {"none": "NONE", "required": "REQUIRED"}


def _response_format(body: dict[str, Any], value: dict[str, Any], call: Call) -> None:
    body["response_format"] = _cohere_format(value)


def _thinking(body: dict[str, Any], value: str, call: Call) -> None:
    body["thinking"] = {"type": "disabled" if value == "none" else "enabled"}


_COHERE_PARAMS: ParamTable = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "top_p": "p",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "logprobs": "logprobs",
    "stop": listed("stop_sequences"),
    "response_format": _response_format,
    "reasoning_effort": _thinking,
    "n": Refused("it generates one reply per request; send n requests", accepts=1),
    "parallel_tool_calls": Refused("it cannot be told to call one tool at a time", accepts=True),
}


class CohereCodec:
    """Builds ``/v2/chat`` requests and decodes their event streams."""

    name = "cohere-v2"
    supported_params = _COHERE_PARAMS

    def path(self, call: Call) -> str:
        return "/v2/chat"

    def build_body(self, call: Call) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": call.model,
            "messages": _messages(call.messages),
            "stream": call.stream,
        }
        tools = call.tools
        choice = call.tool_choice
        if choice is not None and choice != "auto":
            if choice in _CHOICE:
                body["tool_choice"] = _CHOICE[choice]
            else:
                tools = tuple(t for t in tools if t.name == choice)
                body["tool_choice"] = "REQUIRED"
        if tools:
            body["tools"] = [_tool_json(t) for t in tools]
            if any(t.strict for t in tools):
                body["strict_tools"] = True
        render_params(self, call, body)
        body.update(call.extra_body)
        return body

    def stream_decoder(self, call: Call) -> CohereDecoder:
        return CohereDecoder(
            call.provider or "cohere", call.model, max_event_bytes=call.max_event_bytes
        )

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return decode_response(body)


def providers() -> list[Provider]:
    return [
        Provider(
            "cohere",
            CohereCodec(),
            "https://api.cohere.com",
            api_key_env=("CO_API_KEY", "COHERE_API_KEY"),
            base_url_env=("CO_API_URL",),
            stream_usage=False,
        )
    ]


def _cohere_format(value: dict[str, Any]) -> dict[str, Any]:
    kind = value.get("type")
    if kind == "text":
        return {"type": "text"}
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequestError("response_format json_schema needs a 'schema' object")
        return {"type": "json_object", "json_schema": schema}
    raise InvalidRequestError(f"unsupported response_format type {kind!r} for cohere")


def _tool_json(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.schema}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.role
        content = message.content if message.content is not None else ""
        if role in (MessageRole.SYSTEM, MessageRole.DEVELOPER):
            out.append({"role": "system", "content": content})
        elif role is MessageRole.USER:
            out.append({"role": "user", "content": content})
        elif role is MessageRole.ASSISTANT:
            out.append(_assistant(message, content))
        else:
            if not message.tool_call_id:
                raise InvalidRequestError("cohere needs tool_call_id on every tool result")
            out.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": content})
    return out


def _assistant(message: Message, content: str | list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    if message.tool_calls:
        out["tool_calls"] = [_tool_call_json(c) for c in message.tool_calls]
        if message.reasoning:
            out["tool_plan"] = message.reasoning
        if content:
            out["content"] = content
    elif message.reasoning:
        if isinstance(content, str):
            parts = [{"type": "text", "text": content}] if content else []
        else:
            parts = content
        out["content"] = [{"type": "thinking", "thinking": message.reasoning}, *parts]
    else:
        out["content"] = content
    citations = [
        item["citation"]
        for item in message.items or ()
        if isinstance(item, dict) and item.get("type") == CITATION_ITEM
    ]
    if citations:
        out["citations"] = citations
    return out


def _tool_call_json(call: Any) -> dict[str, Any]:
    call_id: Any
    name: Any
    arguments: Any
    if isinstance(call, ToolCall):
        call_id, name, arguments = call.id, call.name, call.arguments
    elif isinstance(call, dict):
        function = call.get("function") or {}
        call_id, name, arguments = call.get("id"), function.get("name"), function.get("arguments")
    else:
        raise InvalidRequestError(f"a tool call must be a rill.ToolCall or a dict, not {call!r}")
    if not isinstance(arguments, str):
        arguments = orjson.dumps(arguments or {}).decode()
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
