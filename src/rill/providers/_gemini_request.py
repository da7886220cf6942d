"""Gemini ``generateContent`` request bodies, from a provider-neutral ``Call``.

Messages become ``contents`` of ``user`` and ``model`` turns (consecutive
messages of one role share a turn); system and developer messages, wherever
they stand, become ``systemInstruction``. An assistant turn is rebuilt from
what the decoder kept (see ``_gemini_stream``): its reasoning as a
``thought: true`` part, its text, the verbatim parts kept as items, and one
``functionCall`` part per tool call. Signatures must go back on the kind of
part they came on, so they are taken from the ``thoughtSignature`` items: a
text signature on the text part, a thought signature on the thought part, a
function call's on the call with its id. ``reasoning_signature`` is not sent:
it may come from another provider, whose signature Gemini would reject.
Gemini 3 rejects a turn whose first function call has no signature (a
conversation written by hand or by another provider); such a call gets the
placeholder Google documents for that case.

Tool results become ``functionResponse`` parts in a ``user`` turn. Gemini
pairs them with calls by name and position, not id (and rejects an ``id``
field on either), so the name is taken from the earlier assistant tool call
with the result's ``tool_call_id``. A result that is a JSON object is sent as
the response itself; anything else as ``{"output": <text>}``.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from typing import Any

import orjson

from .._errors import InvalidRequestError
from .._messages import Message, MessageRole
from .._response import ToolCall
from .._tools import ToolSpec
from ._base import Call, Codec
from ._param_support import ParamTable, Refused, listed, render_params

__all__ = ["GEMINI_PARAMS", "build_gemini_body"]

# Google's documented stand-in for a function call that has no thought signature.
_SKIP_SIGNATURE = "skip_thought_signature_validator"

_EFFORTS = ("none", "minimal", "low", "medium", "high")
# Gemini 2.x thinking budgets in tokens; the OpenAI-compatible endpoint maps
# low/medium/high to the same values.
_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_GENERATION_NUMBER = re.compile(r"(?:models/)?gemini-(\d+)")
_DATA_URL = re.compile(r"data:([^;,]+)?(?:;[^,]*)?;base64,(.*)", re.DOTALL)


def build_gemini_body(codec: Codec, call: Call) -> dict[str, Any]:
    """The JSON body of a ``generateContent`` / ``streamGenerateContent``
    request; ``codec`` declares the parameters, which go in ``generationConfig``."""
    system, contents = _contents(call.messages, _needs_signatures(call.model))
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if call.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in call.tools]}]
    if call.tool_choice is not None:
        body["toolConfig"] = {"functionCallingConfig": _calling_config(call)}
    config: dict[str, Any] = {}
    render_params(codec, call, config)
    if config:
        body["generationConfig"] = config
    if call.extra_body:
        _merge(body, call.extra_body)
    return body


# ------------------------------------------------------------------- params


def _logprobs(config: dict[str, Any], value: bool, call: Call) -> None:
    config["responseLogprobs"] = value


def _top_logprobs(config: dict[str, Any], value: int, call: Call) -> None:
    config["responseLogprobs"] = True
    config["logprobs"] = value


def _reasoning_effort(config: dict[str, Any], value: str, call: Call) -> None:
    config["thinkingConfig"] = _thinking(value, call.model)


def _response_format(config: dict[str, Any], value: Mapping[str, Any], call: Call) -> None:
    config.update(_output_format(value))


def _output_format(value: Mapping[str, Any]) -> dict[str, Any]:
    kind = value.get("type")
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise InvalidRequestError(
                "response_format json_schema needs {'json_schema': {'name': ..., 'schema': {...}}}"
            )
        return {"responseMimeType": "application/json", "responseJsonSchema": dict(schema)}
    raise InvalidRequestError(
        f"response_format type {kind!r} is not supported; use text, json_object or json_schema"
    )


# generationConfig's names.
GEMINI_PARAMS: ParamTable = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "seed": "seed",
    "n": "candidateCount",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "stop": listed("stopSequences"),
    "logprobs": _logprobs,
    "top_logprobs": _top_logprobs,
    "response_format": _response_format,
    "reasoning_effort": _reasoning_effort,
    "parallel_tool_calls": Refused("it may always call several functions at once", accepts=True),
}


def _thinking(effort: str, model: str) -> dict[str, Any]:
    """Gemini 3 and later take a ``thinkingLevel``; earlier models a token
    ``thinkingBudget``. Gemini 3 cannot stop thinking, so ``none`` is its
    lowest level, ``minimal``. Thoughts are asked for whenever there are any."""
    if effort not in _EFFORTS:
        raise InvalidRequestError(
            f"reasoning_effort must be one of {', '.join(_EFFORTS)}, not {effort!r}"
        )
    if not _needs_signatures(model):
        budget = _BUDGETS[effort]
        return (
            {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}
        )
    level = "minimal" if effort == "none" else effort
    return {"thinkingLevel": level, "includeThoughts": True}


def _needs_signatures(model: str) -> bool:
    """Gemini 3 and later: thinking levels, signatures required on function calls."""
    match = _GENERATION_NUMBER.match(model)
    return match is not None and int(match.group(1)) >= 3


# -------------------------------------------------------------------- tools


def _declaration(tool: ToolSpec) -> dict[str, Any]:
    # parametersJsonSchema takes JSON Schema as it is ($ref, anyOf, const, ...),
    # where ``parameters`` accepts only Gemini's OpenAPI subset.
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    declaration["parametersJsonSchema"] = tool.schema
    return declaration


def _calling_config(call: Call) -> dict[str, Any]:
    choice = call.tool_choice
    assert choice is not None
    if choice != "none" and not call.tools:
        raise InvalidRequestError(f"tool_choice={choice!r} needs tools=[...]")
    mode = _CHOICE_MODES.get(choice)
    if mode is not None:
        return {"mode": mode}
    return {"mode": "ANY", "allowedFunctionNames": [choice]}


# ----------------------------------------------------------------- messages


def _contents(
    messages: tuple[Message, ...], needs_signatures: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, latest call wins
    for position, message in enumerate(messages):
        role = message.role
        if role is MessageRole.SYSTEM or role is MessageRole.DEVELOPER:
            system.extend(_parts(message.content, position))
        elif role is MessageRole.USER:
            _append(contents, "user", _parts(message.content, position))
        elif role is MessageRole.ASSISTANT:
            parts, calls = _model_parts(message, position)
            names.update(calls)
            _append(contents, "model", parts)
        else:
            _append(contents, "user", [_function_response(message, position, names)])
    if needs_signatures:
        for content in contents:
            if content["role"] == "model":
                _sign_first_call(content["parts"])
    return system, contents


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _parts(content: Any, position: int) -> list[dict[str, Any]]:
    """User-side content: text, or a list of OpenAI-style parts (text,
    image_url, input_audio, file) or Gemini parts (passed through)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}]
    return [_part(part, position) for part in content]


def _part(part: Mapping[str, Any], position: int) -> dict[str, Any]:
    kind = part.get("type")
    if kind is None:
        return dict(part)  # already a Gemini part
    if kind == "text":
        return {"text": part.get("text") or ""}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if isinstance(url, str):
            return _url_part(url)
    elif kind == "input_audio":
        audio = part.get("input_audio")
        if isinstance(audio, Mapping) and isinstance(audio.get("data"), str):
            mime = f"audio/{audio.get('format') or 'wav'}"
            return {"inlineData": {"mimeType": mime, "data": audio["data"]}}
    elif kind == "file":
        file = part.get("file")
        data = file.get("file_data") if isinstance(file, Mapping) else None
        if isinstance(data, str):
            return _url_part(data)
    raise InvalidRequestError(
        f"message {position}: content part {dict(part)!r:.200} is not supported"
    )


def _url_part(url: str) -> dict[str, Any]:
    match = _DATA_URL.match(url)
    if match:
        mime = match.group(1) or "application/octet-stream"
        return {"inlineData": {"mimeType": mime, "data": match.group(2)}}
    file: dict[str, Any] = {"fileUri": url}
    mime = mimetypes.guess_type(url)[0]
    if mime:
        file["mimeType"] = mime
    return {"fileData": file}


def _model_parts(message: Message, position: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """An assistant message as model parts, and its tool calls' id -> name."""
    items = [i for i in message.items or () if isinstance(i, Mapping)]
    signed: dict[Any, Any] = {}  # "text" / "thought" -> the last signature on such a part
    calls_signed: dict[Any, Any] = {}  # tool call id -> signature
    for item in items:
        if item.get("type") == "thoughtSignature":
            if item.get("part") == "functionCall":
                calls_signed[item.get("toolCallId")] = item.get("thoughtSignature")
            else:
                signed[item.get("part")] = item.get("thoughtSignature")
    parts: list[dict[str, Any]] = []
    if message.reasoning or "thought" in signed:
        parts.append(_signed({"text": message.reasoning or "", "thought": True}, signed, "thought"))
    content = message.content
    if isinstance(content, list):
        given = _parts(content, position)
        text = next((p for p in given if "text" in p), None)
        if text is None and "text" in signed:
            given.append(text := {"text": ""})
        if text is not None:
            _signed(text, signed, "text")
        parts.extend(given)
    elif content or "text" in signed:
        parts.append(_signed({"text": content or ""}, signed, "text"))
    parts.extend(dict(i["part"]) for i in items if i.get("type") == "part")
    names: dict[str, str] = {}
    for call in message.tool_calls or ():
        call_id, name, args = _tool_call(call, position)
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        signature = calls_signed.get(call_id)
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
        if call_id:
            names[call_id] = name
    return parts, names


def _signed(part: dict[str, Any], signed: dict[Any, Any], kind: str) -> dict[str, Any]:
    signature = signed.get(kind)
    if signature:
        part["thoughtSignature"] = signature
    return part


def _tool_call(call: Any, position: int) -> tuple[str, str, dict[str, Any]]:
    """(id, name, parsed arguments) of a ``ToolCall`` or an OpenAI-shaped dict."""
    if isinstance(call, ToolCall):
        call_id, name, arguments = call.id, call.name, call.arguments
    elif isinstance(call, Mapping):
        function = call.get("function")
        source = function if isinstance(function, Mapping) else call
        call_id = call.get("id") or ""
        name = source.get("name") or ""
        arguments = source.get("arguments", source.get("args"))
    else:
        raise InvalidRequestError(f"message {position}: a tool call must be a ToolCall or a dict")
    if not name:
        raise InvalidRequestError(f"message {position}: a tool call has no function name")
    if isinstance(arguments, Mapping):
        return call_id, name, dict(arguments)
    try:
        args = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise InvalidRequestError(
            f"message {position}: the arguments of tool call {name!r} are not a JSON object "
            f"(Gemini needs one): {arguments!r:.200}"
        )
    return call_id, name, args


def _sign_first_call(parts: list[dict[str, Any]]) -> None:
    for part in parts:
        if "functionCall" in part:
            part.setdefault("thoughtSignature", _SKIP_SIGNATURE)
            return


def _function_response(message: Message, position: int, names: dict[str, str]) -> dict[str, Any]:
    name = message.name or names.get(message.tool_call_id or "")
    if not name:
        raise InvalidRequestError(
            f"message {position}: tool result {message.tool_call_id!r} answers no earlier "
            f"assistant tool call; Gemini needs the function name (set name=...)"
        )
    return {"functionResponse": {"name": name, "response": _response(message.content)}}


def _response(content: Any) -> dict[str, Any]:
    if isinstance(content, list):
        content = "".join(p.get("text") or "" for p in content if isinstance(p, Mapping))
    text = content or ""
    if text[:1] == "{":
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
    return {"output": text}


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """``extra_body`` over the built body; objects merge key by key, so
    ``{"generationConfig": {"topK": 5}}`` keeps the other settings."""
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            target[key] = value
