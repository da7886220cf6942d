"""What a request asks of the model, in one shape for every protocol, and a
reply that fits it.

The emulator's default answer used to be the same text whatever was asked,
so code that sends tools got no tool call and code that asks for a schema got
prose. ``Intent`` is what each protocol's encoder reads from its own request
JSON (tools, a forced tool, a JSON schema, reasoning, a tool result to answer);
``AutoReply`` turns it into a ``Script``: a tool call with arguments made from
the tool's schema, a JSON value made from the response schema, reasoning for a
reasoning model. Sans-IO: plain values in, a ``Script`` out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ._script import RecordedRequest, Reply, Script, ScriptedToolCall

__all__ = [
    "AutoReply",
    "Intent",
    "ToolAsked",
    "forced_function",
    "function_tools",
    "sample_json",
    "schema_in_text",
    "text_of",
]


@dataclass(frozen=True, slots=True)
class ToolAsked:
    """A tool the request offers: its name and JSON Schema parameters."""

    name: str
    schema: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Intent:
    """What one request asks for, whatever its protocol.

    ``prompt`` is the last user text; ``forced_tool`` the tool the request
    requires (``tool_choice``), if one; ``schema`` the JSON Schema of a
    structured answer; ``json`` True for JSON mode without a schema;
    ``reasoning`` True when the request turns reasoning on; ``answering_tool``
    True when the last message is a tool result (so the model should answer
    in text rather than call the tool again)."""

    model: str = ""
    prompt: str = ""
    tools: tuple[ToolAsked, ...] = ()
    forced_tool: str | None = None
    schema: Mapping[str, Any] | None = field(default=None, hash=False)
    json: bool = False
    reasoning: bool = False
    answering_tool: bool = False


# Model names that reason before they answer.
_REASONING_MODEL = re.compile(r"reason|think|(^|[-/])(r1|o[1-9]|qwq|magistral)([-:]|$)", re.I)

_ANSWER = (
    "**This answer comes from rill's emulator**, not from a model: no request left "
    "this machine. You wrote: *{prompt}*\n\n"
    "Streaming shows each token the moment it exists, so a reader starts at the "
    "first word instead of waiting for the last:\n\n"
    "- the time to the first token is the wait a person notices\n"
    "- the time to the last token is the same either way\n\n"
    "Drop the `emulator/` prefix and set the provider's key to ask a real model."
)
_REASONING = (
    "The request names a reasoning model, so the emulator sends reasoning first. "
    "It has no model behind it: this text is scripted, and so is the answer."
)
_TOOL_ANSWER = "The tool answered; the emulator has read its result and would now reply with it."


@dataclass(frozen=True, slots=True)
class AutoReply:
    """A responder: answers each request with a reply that fits its ``Intent``.

    A forced tool or a JSON schema gets a JSON value made from the schema
    (as the tool call's arguments, or as text); offered tools get a call of
    the first one, unless the conversation already ends with a tool result;
    a reasoning model (by name, or reasoning asked for) gets reasoning before
    the text. ``text`` replaces the built-in answer (``{prompt}`` is filled
    in); ``ttft`` and ``tokens_per_second`` pace every reply."""

    text: str | None = None
    ttft: float = 0.0
    tokens_per_second: float | None = None

    def __call__(self, request: RecordedRequest, intent: Intent) -> Script:
        pace: dict[str, Any] = {"ttft": self.ttft, "tokens_per_second": self.tokens_per_second}
        return Script(replies=(self.reply(intent),), **pace)

    def reply(self, intent: Intent) -> Reply:
        """The reply alone (no pacing)."""
        reasoning = _REASONING if _wants_reasoning(intent) else ""
        tools = {tool.name: tool for tool in intent.tools}
        if intent.forced_tool is not None and intent.forced_tool in tools:
            tool = tools[intent.forced_tool]
            call = ScriptedToolCall(tool.name, sample_json(tool.schema))
            return Reply(reasoning=reasoning, tool_calls=(call,))
        if intent.schema is not None or intent.json:
            value = sample_json(intent.schema or {"type": "object"})
            return Reply(text=orjson.dumps(value).decode(), reasoning=reasoning)
        if intent.tools and not intent.answering_tool:
            tool = intent.tools[0]
            return Reply(
                reasoning=reasoning,
                tool_calls=(ScriptedToolCall(tool.name, sample_json(tool.schema)),),
            )
        if intent.answering_tool:
            return Reply(text=_TOOL_ANSWER, reasoning=reasoning)
        prompt = " ".join(intent.prompt.split())
        if len(prompt) > 80:
            prompt = prompt[:79] + "…"
        text = (self.text if self.text is not None else _ANSWER).replace(
            "{prompt}", prompt or "(nothing)"
        )
        return Reply(text=text, reasoning=reasoning)


def _wants_reasoning(intent: Intent) -> bool:
    return intent.reasoning or bool(_REASONING_MODEL.search(intent.model))


# Sample values for well-known field names; any other string field gets
# "<field> 1" (and list items count up), so what arrived is easy to read.
_STRINGS: dict[str, str | list[str]] = {
    "name": ["Alex Chen", "Sam Rivera", "Priya Nair"],
    "first_name": "Alex",
    "last_name": "Chen",
    "title": "A short title",
    "city": "Paris",
    "country": "France",
    "location": "Paris",
    "email": "alex@example.com",
    "bio": "Builds small tools and reads the changelogs.",
    "description": "A short description.",
    "summary": "A short summary.",
    "answer": "42",
    "unit": "celsius",
    "language": "en",
    "date": "2025-01-01",
    "url": "https://example.com",
}
_LISTS = {
    "interests": ["jazz", "sailing", "compilers"],
    "tags": ["one", "two", "three"],
}


def sample_json(schema: Mapping[str, Any], name: str = "", *, item: int = 0) -> Any:
    """A value that validates against ``schema`` (the common subset: types,
    ``properties``, ``items``, ``enum``, ``const``, ``anyOf``/``oneOf``,
    local ``$ref``), with readable values for well-known field names."""
    return _sample(schema, name, item, schema.get("$defs") or schema.get("definitions") or {}, 0)


def _sample(node: Any, name: str, item: int, defs: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(node, Mapping) or depth > 8:
        return None
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _sample(defs.get(ref.rpartition("/")[2]), name, item, defs, depth + 1)
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][item % len(node["enum"])]
    for key in ("anyOf", "oneOf", "allOf"):
        options = node.get(key)
        if isinstance(options, list) and options:
            usable = [
                o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")
            ]
            return _sample((usable or options)[0], name, item, defs, depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in node):
        props = node.get("properties") or {}
        return {key: _sample(sub, key, item, defs, depth + 1) for key, sub in props.items()}
    if kind == "array":
        if name in _LISTS and _is_string(node.get("items")):
            return list(_LISTS[name])
        count = max(int(node.get("minItems") or 0), 3)
        return [
            _sample(node.get("items"), _singular(name), i, defs, depth + 1) for i in range(count)
        ]
    if kind == "integer":
        return int(node.get("minimum") or 0) + 1 + item
    if kind == "number":
        return float(node.get("minimum") or 0) + 1.5 + item
    if kind == "boolean":
        return item % 2 == 0
    if kind == "null":
        return None
    if kind == "string":
        if node.get("format") == "date-time":
            return "2025-01-01T12:00:00Z"
        known = _STRINGS.get(name)
        if isinstance(known, list):
            return known[item % len(known)]
        if item == 0 and known is not None:
            return known
        return f"{name or 'text'} {item + 1}"
    return {}


def _is_string(node: Any) -> bool:
    return isinstance(node, Mapping) and node.get("type") == "string"


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and len(name) > 3 else name


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text"))
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def schema_in_text(texts: list[str]) -> Mapping[str, Any] | None:
    """A JSON Schema written out in a prompt (JSON mode puts the schema in a
    system message): the last text that ends with a JSON object having
    ``properties`` or ``type``."""
    for text in reversed(texts):
        start = text.find("{")
        while start != -1:
            try:
                value = orjson.loads(text[start:].strip())
            except orjson.JSONDecodeError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict) and ("properties" in value or "type" in value):
                return value
            break
    return None


def function_tools(tools: Any) -> tuple[ToolAsked, ...]:
    """Tools in the OpenAI Chat shape (``{"type": "function", "function":
    {...}}``) or the flat one (``{"name", "parameters"}``, the Responses API)."""
    found = []
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping):
            continue
        inner = tool.get("function")
        spec: Mapping[str, Any] = inner if isinstance(inner, Mapping) else tool
        name = spec.get("name")
        if isinstance(name, str):
            schema = spec.get("parameters") or spec.get("input_schema") or {}
            found.append(ToolAsked(name, schema if isinstance(schema, Mapping) else {}))
    return tuple(found)


def forced_function(choice: Any) -> str | None:
    """The tool a ``tool_choice`` requires by name (OpenAI, Anthropic and
    Responses shapes), or None."""
    if not isinstance(choice, Mapping):
        return None
    inner = choice.get("function")
    spec: Mapping[str, Any] = inner if isinstance(inner, Mapping) else choice
    name = spec.get("name")
    return name if isinstance(name, str) else None
