"""Ollama's native API: ``ollama/<model>`` (``/api/chat``) and
``ollama-generate/<model>`` (``/api/generate``).

Which Ollama provider to use:

- ``ollama/`` speaks the native chat API. It is the one to use with Ollama:
  it streams the model's thinking separately (``message.thinking``), says why
  generation ended (``done_reason``), and reports Ollama's own nanosecond
  timings, model load time included (see ``_ollama_stream``).
- ``ollama-openai/`` speaks Ollama's OpenAI-compatible ``/v1`` endpoint, for
  code that wants OpenAI semantics exactly (ids, ``finish_reason``,
  ``stream_options``) and can do without the above.
- ``ollama-generate/`` is the completion endpoint: one prompt (plus an
  optional system prompt) rather than a conversation. It takes a single user
  turn; anything else is refused with a pointer to ``ollama/``.

The server is ``OLLAMA_HOST`` read the way the ``ollama`` CLI reads it
(``host``, ``host:port`` or a URL; default ``http://127.0.0.1:11434``). No key
is needed; ``OLLAMA_API_KEY`` is sent as a bearer token when set (hosted
Ollama).

Requests: the common parameters go in ``options`` (``max_tokens`` is
``num_predict``, ``stop`` is always a list); ``reasoning_effort`` becomes
``think`` (``"none"`` turns thinking off, ``"low"``/``"medium"``/``"high"`` are
passed as levels, which models without levels read as "on"; ``"minimal"`` is
``"low"``); ``response_format`` becomes ``format`` (``"json"``, or the JSON
schema). Ollama has no ``n``, no forced or disabled tool choice and no
``user``, so those are refused at the call. Text completions
(``rill.complete`` with ``ollama/`` or ``ollama-generate/``) use
``/api/generate`` with one prompt: ``suffix`` is passed on, an integer
``logprobs`` becomes ``logprobs`` plus ``top_logprobs``, and ``echo``,
``best_of``, ``logit_bias`` are refused. ``extra_body`` is merged last;
its ``options`` are merged into rill's rather than replacing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from .._chunks import StreamChunk
from .._errors import InvalidRequestError
from .._messages import Message, MessageRole
from .._response import ToolCall
from .._tools import ToolSpec
from ._base import Call, Codec
from ._ollama_stream import OllamaDecoder, decode_whole
from ._param_support import ParamTable, Refused, Render, as_list, render_params
from ._provider import Provider

__all__ = ["OllamaChatCodec", "OllamaGenerateCodec", "OllamaProvider", "providers"]

DEFAULT_HOST = "http://127.0.0.1:11434"

_THINK: dict[str, bool | str] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}
_SYSTEM_ROLES = (MessageRole.SYSTEM, MessageRole.DEVELOPER)


# ------------------------------------------------------------------ parameters


def _option(name: str) -> Render:
    """Sends a parameter in ``options`` as ``name``."""

    def render(body: dict[str, Any], value: Any, call: Call) -> None:
        body.setdefault("options", {})[name] = value

    return render


def _stop(body: dict[str, Any], value: str | list[str], call: Call) -> None:
    body.setdefault("options", {})["stop"] = as_list(value)


def _think(body: dict[str, Any], value: str, call: Call) -> None:
    if value not in _THINK:
        raise InvalidRequestError(
            f"reasoning_effort={value!r} is not one of {', '.join(_THINK)}; "
            "pass extra_body={'think': ...} for another value"
        )
    body["think"] = _THINK[value]


def _response_format(body: dict[str, Any], value: dict[str, Any], call: Call) -> None:
    fmt = _format(value)
    if fmt is not None:
        body["format"] = fmt


_CHAT_PARAMS: ParamTable = {
    "temperature": _option("temperature"),
    "top_p": _option("top_p"),
    "max_tokens": _option("num_predict"),
    "seed": _option("seed"),
    "presence_penalty": _option("presence_penalty"),
    "frequency_penalty": _option("frequency_penalty"),
    "stop": _stop,
    "reasoning_effort": _think,
    "response_format": _response_format,
    "logprobs": "logprobs",
    "top_logprobs": "top_logprobs",
    "n": Refused("it generates one reply per request; send n requests", accepts=1),
    "parallel_tool_calls": Refused("it always allows parallel tool calls", accepts=True),
}
# A text completion's suffix (the text after the insertion point).
_GENERATE_PARAMS: ParamTable = {**_CHAT_PARAMS, "suffix": "suffix"}


def _apply_params(codec: Codec, body: dict[str, Any], call: Call) -> None:
    """The parameters as ``codec`` declares them, then ``extra_body``, whose
    ``options`` are merged into rill's rather than replacing them."""
    render_params(codec, call, body)
    options: dict[str, Any] = body.pop("options", {})
    extra = dict(call.extra_body)
    extra_options = extra.pop("options", None)
    if isinstance(extra_options, dict):
        options.update(extra_options)
    elif extra_options is not None:
        raise InvalidRequestError("extra_body['options'] must be a dict of Ollama options")
    if options:
        body["options"] = options
    body.update(extra)


def _format(response_format: dict[str, Any]) -> Any:
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequestError("response_format json_schema needs a 'schema' object")
        return schema
    if kind == "text":
        return None
    raise InvalidRequestError(f"unsupported response_format type {kind!r} for ollama")


@dataclass(frozen=True)
class OllamaProvider(Provider):
    """An Ollama server; ``OLLAMA_HOST`` names it as the ``ollama`` CLI reads it."""

    def resolve_base_url(self, base_url: str | None) -> str:
        if base_url:
            return base_url.rstrip("/")
        host = os.environ.get("OLLAMA_HOST", "").strip()
        return ollama_host_url(host) if host else self.base_url.rstrip("/")


def ollama_host_url(host: str) -> str:
    """``OLLAMA_HOST`` as a URL: no scheme means ``http`` and, without a port,
    port 11434; an explicit scheme keeps its own default port; no host means
    127.0.0.1."""
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "http", host
    parts = urlsplit(f"{scheme}://{rest}")
    hostname = parts.hostname or "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and not sep:
        port = 11434
    where = f"{hostname}:{port}" if port is not None else hostname
    return f"{scheme}://{where}{parts.path.rstrip('/')}"


class OllamaChatCodec:
    """Builds ``/api/chat`` requests and decodes their NDJSON responses."""

    name = "ollama-chat"
    supported_params = _CHAT_PARAMS

    def path(self, call: Call) -> str:
        return "/api/chat"

    def build_body(self, call: Call) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": call.model,
            "messages": _chat_messages(call.messages),
            "stream": call.stream,
        }
        if call.tools:
            body["tools"] = [_tool_json(tool) for tool in call.tools]
        if call.tool_choice not in (None, "auto"):
            raise InvalidRequestError(
                f"ollama cannot be told which tool to use (tool_choice={call.tool_choice!r}); "
                "only 'auto' is supported: leave out the tools the model must not call"
            )
        _apply_params(self, body, call)
        return body

    def stream_decoder(self, call: Call) -> OllamaDecoder:
        return OllamaDecoder(call.provider or "ollama", max_event_bytes=call.max_event_bytes)

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return decode_whole(body, call.provider or "ollama", generate=False)


class OllamaGenerateCodec:
    """Builds ``/api/generate`` requests from a single user turn."""

    name = "ollama-generate"
    supported_params = _GENERATE_PARAMS

    def path(self, call: Call) -> str:
        return "/api/generate"

    def build_body(self, call: Call) -> dict[str, Any]:
        if call.tools or call.tool_choice is not None:
            raise InvalidRequestError(
                "ollama-generate/ has no tools; use ollama/<model> (the chat API) for tool calling"
            )
        if call.prompt is not None and len(call.prompt) != 1:
            raise InvalidRequestError(
                f"ollama's /api/generate takes one prompt per request, not {len(call.prompt)}; "
                "send one request per prompt"
            )
        *head, last = call.messages
        if last.role is not MessageRole.USER or any(m.role not in _SYSTEM_ROLES for m in head):
            raise InvalidRequestError(
                "ollama-generate/ takes a single user turn (and optionally a system prompt); "
                "for a conversation with several turns, assistant messages or tool results "
                "use ollama/<model>, which speaks Ollama's chat API"
            )
        prompt, images = _user_content(last.content)
        body: dict[str, Any] = {"model": call.model, "prompt": prompt, "stream": call.stream}
        if head:
            body["system"] = "\n\n".join(_text_only(m.content, "system") for m in head)
        if images:
            body["images"] = images
        _apply_params(self, body, call)
        return body

    def stream_decoder(self, call: Call) -> OllamaDecoder:
        return OllamaDecoder(
            call.provider or "ollama-generate",
            generate=True,
            max_event_bytes=call.max_event_bytes,
        )

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return decode_whole(body, call.provider or "ollama-generate", generate=True)


def providers() -> list[Provider]:
    """``ollama/`` (chat) and ``ollama-generate/`` (completion) on one server."""
    common: dict[str, Any] = {
        "api_key_env": ("OLLAMA_API_KEY",),
        "key_required": False,
        "stream_usage": False,
    }
    generate = OllamaGenerateCodec()
    common["completions"] = generate  # rill.complete with either uses /api/generate
    return [
        OllamaProvider("ollama", OllamaChatCodec(), DEFAULT_HOST, **common),
        OllamaProvider("ollama-generate", generate, DEFAULT_HOST, **common),
    ]


def _tool_json(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.schema}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


# -------------------------------------------------------------------- messages


def _chat_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> tool name, for tool results
    for message in messages:
        role = message.role
        if role in _SYSTEM_ROLES:
            out.append({"role": "system", "content": _text_only(message.content, "system")})
        elif role is MessageRole.USER:
            text, images = _user_content(message.content)
            user: dict[str, Any] = {"role": "user", "content": text}
            if images:
                user["images"] = images
            out.append(user)
        elif role is MessageRole.ASSISTANT:
            assistant: dict[str, Any] = {
                "role": "assistant",
                "content": _text_only(message.content, "assistant"),
            }
            if message.reasoning:
                assistant["thinking"] = message.reasoning
            if message.tool_calls:
                calls = [_tool_call_json(i, c, names) for i, c in enumerate(message.tool_calls)]
                assistant["tool_calls"] = calls
            out.append(assistant)
        else:
            result: dict[str, Any] = {
                "role": "tool",
                "content": _text_only(message.content, "tool"),
            }
            name = message.name or names.get(message.tool_call_id or "")
            if name:
                result["tool_name"] = name
            if message.tool_call_id:
                result["tool_call_id"] = message.tool_call_id
            out.append(result)
    return out


def _tool_call_json(index: int, call: Any, names: dict[str, str]) -> dict[str, Any]:
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
    if not isinstance(arguments, dict):
        text = (arguments or "").strip() or "{}"
        try:
            arguments = orjson.loads(text)
        except orjson.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            raise InvalidRequestError(
                f"ollama takes tool-call arguments as a JSON object; "
                f"call {name!r} has {text!r:.200}"
            )
    out: dict[str, Any] = {
        "type": "function",
        "function": {"index": index, "name": name, "arguments": arguments},
    }
    if call_id:
        out["id"] = call_id
        if name:
            names[call_id] = name
    return out


def _text_only(content: str | list[dict[str, Any]] | None, role: str) -> str:
    text, images = _user_content(content)
    if images:
        raise InvalidRequestError(f"ollama takes images only in user messages, not in {role}")
    return text


def _user_content(content: str | list[dict[str, Any]] | None) -> tuple[str, list[str]]:
    """Text and base64 images of a message. Text parts are joined by newlines."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(part.get("text") or "")
        elif kind in ("image_url", "image"):
            images.append(_image_base64(part))
        else:
            raise InvalidRequestError(f"ollama cannot take the content part {part!r:.200}")
    return "\n".join(texts), images


def _image_base64(part: dict[str, Any]) -> str:
    """Base64 image data from an OpenAI ``image_url`` part holding a ``data:``
    URL, or an Anthropic-style ``image`` part with a base64 ``source``."""
    if part.get("type") == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
            return url.partition(";base64,")[2]
        raise InvalidRequestError(
            "ollama takes images as base64 data: pass a data: URL "
            f"('data:image/png;base64,...'), not {str(url)[:80]!r}"
        )
    source = part.get("source")
    if isinstance(source, dict) and source.get("type") == "base64" and source.get("data"):
        return str(source["data"])
    raise InvalidRequestError(f"ollama takes images as base64 data, not {part!r:.200}")
