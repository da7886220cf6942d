"""Anthropic Messages request bodies, built from a provider-independent ``Call``.

The Messages API differs from Chat Completions in ways a caller should not
have to know about, so they are handled here:

- System (and developer) messages become the top-level ``system``, wherever
  they stood in the conversation.
- Roles must alternate, so consecutive messages of one role are merged into
  one message of content blocks; tool results are ``tool_result`` blocks in a
  user message (consecutive results share one).
- An assistant turn is rebuilt as content blocks: the thinking that must be
  sent back (from ``items`` when the response kept its thinking blocks there,
  otherwise ``reasoning`` + ``reasoning_signature``), the kept provider
  ``items`` in order, the text, then ``tool_use`` blocks. Unsigned reasoning
  (from another provider) is not sent: Anthropic rejects thinking without a
  signature.
- ``max_tokens`` is required: it defaults to ``DEFAULT_MAX_TOKENS``, or to the
  thinking budget plus ``THINKING_HEADROOM`` when thinking is on with a
  budget, or to ``ADAPTIVE_MAX_TOKENS`` with adaptive thinking.
- ``reasoning_effort`` becomes ``thinking``: adaptive thinking with
  ``output_config.effort`` on models that support it (Claude 4.6 and later),
  an ``enabled`` budget from ``THINKING_BUDGETS`` on the others.
- Parameters Anthropic has no equivalent for are rejected at the call.

``extra_body`` is applied last and wins, with two merges instead of
replacements: its ``tools`` are appended (Anthropic's server tools, such as
``{"type": "web_search_20250305", "name": "web_search"}``, go there) and its
``output_config`` is merged key by key.
"""

from __future__ import annotations

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

__all__ = [
    "ADAPTIVE_MAX_TOKENS",
    "ANTHROPIC_PARAMS",
    "DEFAULT_MAX_TOKENS",
    "THINKING_BUDGETS",
    "THINKING_HEADROOM",
    "build_body",
    "supports_adaptive_thinking",
]

DEFAULT_MAX_TOKENS = 4096
THINKING_HEADROOM = 4096  # answer tokens on top of a thinking budget
ADAPTIVE_MAX_TOKENS = 32000  # within the output limit of every adaptive model
MIN_THINKING_BUDGET = 1024  # Anthropic's minimum budget_tokens

# reasoning_effort -> budget_tokens (models with budgeted thinking).
THINKING_BUDGETS: Mapping[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 24576,
}
# reasoning_effort -> output_config.effort (models with adaptive thinking).
_ADAPTIVE_EFFORTS: Mapping[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
    "max": "max",
}

# Kept in ``items`` for the caller but never sent back: a cited text block's
# text is already in the message content.
_NOT_SENT_BACK = frozenset({"text"})
_DATA_URL = re.compile(r"data:(?P<type>[^;,]+);base64,(?P<data>.*)", re.DOTALL)
_VERSION = re.compile(r"claude-(?:[a-z]+-)?(\d+)(?:-(\d{1,2}))?(?![0-9])")


def supports_adaptive_thinking(model: str) -> bool:
    """Whether ``model`` takes ``thinking: {"type": "adaptive"}``: Claude 4.6
    and later (Opus 4.7 and later accept nothing else) and the Mythos models."""
    if "mythos" in model:
        return True
    match = _VERSION.search(model)
    if match is None:
        return False
    major, minor = int(match[1]), int(match[2] or 0)
    return (major, minor) >= (4, 6)


def build_body(codec: Codec, call: Call) -> dict[str, Any]:
    """The Messages request body for ``call``; ``codec`` declares the parameters."""
    system, messages = render_messages(call.messages)
    body: dict[str, Any] = {"model": call.model, "messages": messages}
    if system:
        body["system"] = system
    if call.tools:
        body["tools"] = [_tool_json(t) for t in call.tools]
    choice = _tool_choice(call.tool_choice)
    if choice is not None:
        body["tool_choice"] = choice
    render_params(codec, call, body)
    if call.stream:
        body["stream"] = True
    _merge_extra(body, call.extra_body)
    if "max_tokens" not in body:
        body["max_tokens"] = _default_max_tokens(body.get("thinking"))
    return body


# ------------------------------------------------------------------ parameters


def _reasoning_effort(body: dict[str, Any], effort: str, call: Call) -> None:
    model, max_tokens = call.model, call.params.max_tokens
    if effort == "none":
        return
    if effort not in THINKING_BUDGETS:
        known = ", ".join(["none", *THINKING_BUDGETS])
        raise InvalidRequestError(f"unknown reasoning_effort {effort!r}; expected one of {known}")
    if supports_adaptive_thinking(model):
        body["thinking"] = {"type": "adaptive"}
        body["output_config"] = {"effort": _ADAPTIVE_EFFORTS[effort]}
        return
    budget = THINKING_BUDGETS[effort]
    if max_tokens is not None and budget >= max_tokens:
        # Anthropic needs budget_tokens < max_tokens: leave half for the answer.
        budget = max(MIN_THINKING_BUDGET, max_tokens // 2)
        if budget >= max_tokens:
            raise InvalidRequestError(
                f"max_tokens={max_tokens} leaves no room for thinking: Anthropic needs a "
                f"thinking budget of at least {MIN_THINKING_BUDGET} tokens below max_tokens; "
                f"raise max_tokens or drop reasoning_effort"
            )
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _response_format(body: dict[str, Any], response_format: Mapping[str, Any], call: Call) -> None:
    kind = response_format.get("type")
    if kind == "text":
        return
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise InvalidRequestError(
                "response_format json_schema needs {'json_schema': {'schema': {...}}}"
            )
        output = body.setdefault("output_config", {})
        output["format"] = {"type": "json_schema", "schema": dict(schema)}
        return
    raise InvalidRequestError(
        f"response_format type {kind!r} is not supported by Anthropic, which has no JSON mode: "
        f"pass response_format={{'type': 'json_schema', 'json_schema': {{'schema': ...}}}} "
        f"(structured outputs) or ask for the JSON through a tool"
    )


def _tool_choice(choice: str | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice == "auto":
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def _parallel_tool_calls(body: dict[str, Any], parallel: bool, call: Call) -> None:
    # Anthropic says it the other way round, inside tool_choice (where "none"
    # makes it moot).
    if parallel:
        return
    choice = body.setdefault("tool_choice", {"type": "auto"})
    if choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True


def _user(body: dict[str, Any], user: str, call: Call) -> None:
    body["metadata"] = {"user_id": user}


def _no_logprobs(name: str) -> Refused:
    return Refused(f"it returns no log probabilities; remove {name}=", accepts=0)


# Values that ask for nothing (n=1, logprobs=False, a zero penalty) are
# accepted, so that code written for OpenAI runs unchanged. reasoning_effort
# comes before response_format: both write output_config.
ANTHROPIC_PARAMS: ParamTable = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "stop": listed("stop_sequences"),
    "parallel_tool_calls": _parallel_tool_calls,
    "reasoning_effort": _reasoning_effort,
    "response_format": _response_format,
    "user": _user,
    "n": Refused("it returns one completion per request; send n requests instead", accepts=1),
    "seed": Refused("it has no seed; remove seed="),
    "logprobs": _no_logprobs("logprobs"),
    "top_logprobs": _no_logprobs("top_logprobs"),
    "presence_penalty": Refused("it has no presence penalty; remove presence_penalty=", accepts=0),
    "frequency_penalty": Refused(
        "it has no frequency penalty; remove frequency_penalty=", accepts=0
    ),
}


def _tool_json(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["input_schema"] = tool.schema
    if tool.strict:
        out["strict"] = True
    return out


def _merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        current = body.get(key)
        if key == "tools" and isinstance(current, list) and isinstance(value, list | tuple):
            body[key] = current + list(value)
        elif key == "output_config" and isinstance(current, dict) and isinstance(value, Mapping):
            body[key] = {**current, **value}
        else:
            body[key] = value


def _default_max_tokens(thinking: Any) -> int:
    if isinstance(thinking, Mapping):
        if thinking.get("type") == "adaptive":
            return ADAPTIVE_MAX_TOKENS
        budget = thinking.get("budget_tokens")
        if thinking.get("type") == "enabled" and isinstance(budget, int):
            return budget + THINKING_HEADROOM
    return DEFAULT_MAX_TOKENS


# -------------------------------------------------------------------- messages

Content = str | list[dict[str, Any]]


def render_messages(
    messages: tuple[Message, ...],
) -> tuple[Content | None, list[dict[str, Any]]]:
    """``(system, messages)`` in Anthropic's shape."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.role
        content: Content
        if role is MessageRole.SYSTEM or role is MessageRole.DEVELOPER:
            system.extend(_parts(message.content))
            continue
        if role is MessageRole.TOOL:
            api_role, content = "user", [_tool_result(message)]
        elif role is MessageRole.USER:
            api_role = "user"
            raw = message.content
            content = raw if isinstance(raw, str) else _parts(raw)
        else:
            api_role, content = "assistant", _assistant_content(message)
        if out and out[-1]["role"] == api_role:
            previous = out[-1]
            previous["content"] = _blocks(previous["content"]) + _blocks(content)
        else:
            out.append({"role": api_role, "content": content})
    if not system:
        return None, out
    if len(system) == 1 and set(system[0]) == {"type", "text"}:
        return system[0]["text"], out
    return system, out


def _blocks(content: Content) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _parts(content: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Content parts in Anthropic's shape: strings become text blocks, OpenAI
    ``image_url`` parts become ``image`` blocks, the rest pass through."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [_part(p) for p in content]


def _part(part: Any) -> dict[str, Any]:
    if not isinstance(part, Mapping):
        raise InvalidRequestError(f"a content part must be a dict, not {type(part).__name__}")
    if part.get("type") != "image_url":
        return dict(part)
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        raise InvalidRequestError(f"image_url part without a url: {dict(part)!r:.200}")
    match = _DATA_URL.fullmatch(url)
    if match is not None:
        source = {"type": "base64", "media_type": match["type"], "data": match["data"]}
        return {"type": "image", "source": source}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _tool_result(message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidRequestError("a tool message needs tool_call_id= (the id of the call)")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    content = message.content
    if isinstance(content, list):
        block["content"] = _parts(content)
    elif content:
        block["content"] = content
    return block


def _assistant_content(message: Message) -> Content:
    items = [
        dict(item)
        for item in message.items or ()
        if isinstance(item, Mapping) and item.get("type") not in _NOT_SENT_BACK
    ]
    text = message.content
    if not items and not message.tool_calls and not message.reasoning_signature:
        return text if isinstance(text, str) else _parts(text)
    blocks: list[dict[str, Any]] = []
    if message.reasoning_signature and not any(i.get("type") == "thinking" for i in items):
        blocks.append(
            {
                "type": "thinking",
                "thinking": message.reasoning or "",
                "signature": message.reasoning_signature,
            }
        )
    blocks.extend(items)
    blocks.extend(_parts(text))
    blocks.extend(_tool_use(call) for call in message.tool_calls or ())
    return blocks


def _tool_use(call: Any) -> dict[str, Any]:
    if isinstance(call, ToolCall):
        return {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)}
    if isinstance(call, Mapping):
        if call.get("type") == "tool_use":
            return dict(call)
        function = call.get("function")
        if isinstance(function, Mapping):
            tool_call = ToolCall(
                id=str(call.get("id") or ""),
                name=str(function.get("name") or ""),
                arguments=function.get("arguments") or "",
            )
            return _tool_use(tool_call)
    raise InvalidRequestError(f"cannot read a tool call from {call!r:.200}")


def _input(call: ToolCall) -> Any:
    text = call.arguments.strip()
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            f"tool call {call.id!r} ({call.name}) has arguments that are not JSON "
            f"(cut off by max_tokens?): {text[:200]!r}; Anthropic needs the parsed input"
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"tool call {call.id!r} ({call.name}): arguments must be a JSON object, "
            f"not {text[:200]!r}"
        )
    return value
