"""The OpenAI Responses API (``POST /responses``): requests, and resuming a
background response (``GET /responses/{id}?stream=true&starting_after=N``).

The same codec serves OpenAI-compatible Responses servers (DeepSeek,
OpenRouter) through ``base_url=``. Decoding is in
:mod:`rill.providers._openai_responses_stream`.

How a conversation becomes ``input``:

- Leading system and developer messages with text content become
  ``instructions`` (joined by a blank line), the field the API documents for
  them; a later one stays in place as an input message with its role.
- User and assistant messages are message items; chat-style content parts
  (``text``, ``image_url``, ``file``) are renamed to their Responses forms.
- An assistant message's ``items`` (the previous response's ``output``, kept
  verbatim by the decoder) are sent back as they are, in order, so reasoning
  items keep the message and function-call items they are paired with by id.
  The message's content and tool calls are added only where its items do not
  already hold them: content when there is no ``message`` item, a tool call
  when no ``function_call`` item has its ``call_id``. Reasoning text without
  items cannot be sent (the API takes reasoning only as its own items) and is
  left out; so is a message ``name``, which the API has no field for.
- A tool result is a ``function_call_output`` item for its ``call_id``.

Parameters: ``max_tokens`` is ``max_output_tokens``; ``reasoning_effort`` is
``reasoning: {effort, summary: "auto"}`` (summaries are what the API streams
as reasoning); ``response_format`` is ``text.format``; ``logprobs`` asks for
``include: ["message.output_text.logprobs"]`` and ``top_logprobs`` passes
through. ``n > 1``, ``stop``, ``seed`` and the penalties do not exist in this
API and are rejected at the call. With ``extra_body={"store": False}`` nothing
is kept server-side, so ``reasoning.encrypted_content`` is included to make
reasoning items replayable. A function tool without ``strict`` is sent with
``strict: false``: the API's default is strict, which rejects schemas with
optional properties that every other provider accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from .._chunks import StreamChunk
from .._errors import InvalidRequestError
from .._messages import Message, MessageRole
from .._response import ToolCall
from .._tools import ToolSpec
from ._base import Call, HTTPRequest
from ._openai_responses_stream import ResponsesDecoder, decode_response
from ._param_support import ParamTable, Refused, render_params
from ._provider import Provider

__all__ = ["OpenAIResponsesCodec", "providers"]

_LOGPROBS = "message.output_text.logprobs"
_ENCRYPTED_REASONING = "reasoning.encrypted_content"
_INSTRUCTION_ROLES = (MessageRole.SYSTEM, MessageRole.DEVELOPER)


def _logprobs(body: dict[str, Any], value: bool, call: Call) -> None:
    if value:
        body.setdefault("include", []).append(_LOGPROBS)


def _top_logprobs(body: dict[str, Any], value: int, call: Call) -> None:
    body["top_logprobs"] = value
    if call.params.logprobs is None:  # asking for alternatives asks for logprobs
        body.setdefault("include", []).append(_LOGPROBS)


def _reasoning(body: dict[str, Any], value: str, call: Call) -> None:
    body["reasoning"] = {"effort": value, "summary": "auto"}


def _response_format(body: dict[str, Any], value: dict[str, Any], call: Call) -> None:
    body["text"] = {"format": _text_format(value)}


_CHAT_COMPLETIONS_ONLY = (
    "the Responses API has no such parameter; use the Chat Completions "
    "provider ('openai/...') for it"
)
_RESPONSES_PARAMS: ParamTable = {
    "max_tokens": "max_output_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_logprobs": _top_logprobs,
    "parallel_tool_calls": "parallel_tool_calls",
    "user": "user",
    "logprobs": _logprobs,
    "reasoning_effort": _reasoning,
    "response_format": _response_format,
    "n": Refused(_CHAT_COMPLETIONS_ONLY, accepts=1),
    "stop": Refused(_CHAT_COMPLETIONS_ONLY),
    "seed": Refused(_CHAT_COMPLETIONS_ONLY),
    "presence_penalty": Refused(_CHAT_COMPLETIONS_ONLY),
    "frequency_penalty": Refused(_CHAT_COMPLETIONS_ONLY),
}


class OpenAIResponsesCodec:
    """Builds Responses requests and decodes their responses."""

    name = "openai-responses"
    supported_params = _RESPONSES_PARAMS

    def path(self, call: Call) -> str:
        return "/responses"

    def build_body(self, call: Call) -> dict[str, Any]:
        instructions, items = _input(call.messages)
        body: dict[str, Any] = {"model": call.model}
        if instructions is not None:
            body["instructions"] = instructions
        body["input"] = items
        render_params(self, call, body)
        extra = dict(call.extra_body)
        given = extra.pop("include", None) or ()
        include = [given] if isinstance(given, str) else list(given)
        include += body.pop("include", ())
        if call.tools:
            body["tools"] = [_tool_json(t) for t in call.tools]
        if call.tool_choice is not None:
            body["tool_choice"] = (
                call.tool_choice
                if call.tool_choice in ("auto", "none", "required")
                else {"type": "function", "name": call.tool_choice}
            )
        if call.stream:
            body["stream"] = True
        body.update(extra)
        if body.get("store") is False:
            include.append(_ENCRYPTED_REASONING)
        if include:
            body["include"] = list(dict.fromkeys(include))
        return body

    def stream_decoder(self, call: Call) -> ResponsesDecoder:
        return ResponsesDecoder(call.provider, max_event_bytes=call.max_event_bytes)

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return decode_response(body, call.provider or self.name)

    def resume_request(
        self,
        response_id: str,
        *,
        root: str,
        headers: Mapping[str, str],
        starting_after: int | None = None,
    ) -> HTTPRequest:
        """The request that streams a (background) response again, from the
        event after ``starting_after`` (from its start when None)."""
        if not isinstance(response_id, str) or not response_id.strip():
            raise InvalidRequestError(
                f"response_id must be a non-empty string, not {response_id!r}"
            )
        if starting_after is not None and (
            not isinstance(starting_after, int)
            or isinstance(starting_after, bool)
            or starting_after < 0
        ):
            raise InvalidRequestError(
                f"starting_after must be a non-negative int (a sequence_number), "
                f"not {starting_after!r}"
            )
        query = {"stream": "true"}
        if starting_after is not None:
            query["starting_after"] = str(starting_after)
        url = f"{root}/responses/{quote(response_id, safe='')}?{urlencode(query)}"
        return HTTPRequest("GET", url, b"", headers)


def providers() -> list[Provider]:
    """The endpoints this codec serves: OpenAI's own ``openai-responses``;
    compatible servers are reached with ``base_url=`` (and ``api_key=``)."""
    return [
        Provider(
            "openai-responses",
            OpenAIResponsesCodec(),
            "https://api.openai.com/v1",
            api_key_env=("OPENAI_API_KEY",),
            base_url_env=("OPENAI_BASE_URL",),
        )
    ]


# ------------------------------------------------------------------- input


def _input(messages: tuple[Message, ...]) -> tuple[str | None, list[Any]]:
    """``instructions`` (from the leading system/developer messages) and ``input``."""
    instructions: list[str] = []
    start = 0
    for message in messages:
        if message.role not in _INSTRUCTION_ROLES or not isinstance(message.content, str):
            break
        instructions.append(message.content)
        start += 1
    items: list[Any] = []
    for message in messages[start:]:
        role = message.role
        if role is MessageRole.ASSISTANT:
            _assistant(message, items)
        elif role is MessageRole.TOOL:
            if not message.tool_call_id:
                raise InvalidRequestError("a tool message needs the tool_call_id it answers")
            content = message.content
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id,
                    "output": "" if content is None else content,
                }
            )
        else:
            items.append({"role": role.value, "content": _content(message.content, "input_text")})
    return ("\n\n".join(instructions) if instructions else None), items


def _assistant(message: Message, items: list[Any]) -> None:
    kept = list(message.items or ())
    items.extend(kept)
    has_message = any(_kind(item) == "message" for item in kept)
    called = {item.get("call_id") for item in kept if _kind(item) == "function_call"}
    content = message.content
    if content and not has_message:
        items.append({"role": "assistant", "content": _content(content, "output_text")})
    for call in message.tool_calls or ():
        call_id, name, arguments = _call_fields(call)
        if call_id not in called:
            items.append(
                {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
            )


def _kind(item: Any) -> Any:
    return item.get("type") if isinstance(item, dict) else None


def _call_fields(call: Any) -> tuple[str, str, str]:
    if isinstance(call, ToolCall):
        return call.id, call.name, call.arguments
    if isinstance(call, Mapping):
        function = call.get("function")
        fields = function if isinstance(function, Mapping) else call
        arguments = fields.get("arguments")
        if not isinstance(arguments, str):
            arguments = "" if arguments is None else _json(arguments)
        return call.get("id") or call.get("call_id") or "", fields.get("name") or "", arguments
    raise InvalidRequestError(f"a tool call must be a rill.ToolCall or a dict, not {call!r:.200}")


def _content(content: str | list[dict[str, Any]] | None, text_type: str) -> Any:
    """Message content; chat-style parts become their Responses forms."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return [_part(part, text_type) for part in content]


def _part(part: Any, text_type: str) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "text" or (kind in ("input_text", "output_text") and kind != text_type):
        out = {"type": text_type, "text": part.get("text") or ""}
        if text_type == "output_text":
            out["annotations"] = part.get("annotations") or []
        return out
    if kind == "image_url":
        image = part.get("image_url")
        url, detail = (
            (image.get("url"), image.get("detail")) if isinstance(image, dict) else (image, None)
        )
        return {"type": "input_image", "image_url": url, "detail": detail or "auto"}
    if kind == "file" and isinstance(part.get("file"), dict):
        return {"type": "input_file", **part["file"]}
    return part


def _tool_json(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["parameters"] = tool.schema
    out["strict"] = bool(tool.strict)
    return out


def _text_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    """A Chat Completions ``response_format`` as a Responses ``text.format``."""
    spec = fmt.get("json_schema")
    if fmt.get("type") == "json_schema" and isinstance(spec, Mapping):
        out: dict[str, Any] = {
            "type": "json_schema",
            "name": spec.get("name") or "response",
            "schema": spec.get("schema") or {},
        }
        if spec.get("description"):
            out["description"] = spec["description"]
        if spec.get("strict") is not None:
            out["strict"] = spec["strict"]
        return out
    return dict(fmt)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
