"""How to ask each provider for JSON that matches a model, and where the JSON
comes back.

- ``json_schema``: structured output constrained by the schema
  (``response_format={"type": "json_schema", ...}``); each codec renders it in
  its provider's shape (OpenAI strict schema, Gemini ``responseSchema``,
  Ollama ``format``, Responses ``text.format``). The JSON is the message text.
- ``json``: JSON mode (``{"type": "json_object"}``) with the schema in a
  system message, for providers without schema-constrained output.
- ``tool``: one tool whose parameters are the schema, which the model is
  forced to call; the JSON is that call's arguments.
- ``text``: only the instruction; the JSON is found in the text (prose and a
  markdown fence around it are skipped by the parser).

In ``json_schema`` and ``tool`` modes the answer must be exactly one JSON
value: trailing text or a second value is a ``StructuredValidationError``
(with the raw text and the partial), never the first object taken silently.
``json`` and ``text`` modes look for the JSON in prose, as servers that ignore
``response_format`` answer with some.

The default comes from the provider (``Provider.structured_mode``).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

from .._errors import InvalidRequestError
from .._messages import Message, MessageRole
from .._params import Mode
from .._tools import ToolSpec

__all__ = ["MODES", "Mode", "StructuredRequest", "strict_schema", "structured_request"]

MODES: tuple[Mode, ...] = ("json_schema", "json", "tool", "text")


@dataclass(frozen=True, slots=True)
class StructuredRequest:
    """What a mode adds to a call: options, an instruction message, whether
    the JSON arrives as tool-call arguments instead of text, and whether text
    around the JSON is tolerated (not in ``json_schema`` and ``tool`` modes,
    where the provider promises exactly one JSON value, so anything after it
    is an error, not something to skip)."""

    options: dict[str, Any]
    instruction: Message | None
    from_tool: bool
    allow_prose: bool = False


@functools.lru_cache(maxsize=256)
def structured_request(model: type[BaseModel], mode: Mode) -> StructuredRequest:
    """The request additions that make a provider answer with ``model`` as JSON.

    Cached per model and mode: generating a schema costs more than streaming
    a small object. The result is shared, so it must not be modified.

    In ``json_schema`` mode the schema is sent strict (closed objects, the
    provider guarantees the shape) when every field of every object is
    required, as strict mode demands; a model with optional fields is sent
    non-strict rather than rewritten, so what validates is what was asked for.
    """
    if mode not in MODES:
        raise InvalidRequestError(
            f"unknown structured mode {mode!r}; use one of {', '.join(MODES)}"
        )
    schema = model.model_json_schema()
    name = _schema_name(model)
    description = (model.__doc__ or "").strip()
    if mode == "json_schema":
        strict = _all_required(schema)
        json_schema: dict[str, Any] = {
            "name": name,
            "schema": strict_schema(schema) if strict else schema,
            "strict": strict,
        }
        if description:
            json_schema["description"] = description
        return StructuredRequest(
            {"response_format": {"type": "json_schema", "json_schema": json_schema}}, None, False
        )
    if mode == "tool":
        tool = ToolSpec(name, description or f"Return the {name} object.", schema)
        return StructuredRequest({"tools": [tool], "tool_choice": name}, None, True)
    instruction = Message(
        MessageRole.SYSTEM,
        "Answer with one JSON object that matches this JSON schema, and nothing else:\n"
        + orjson.dumps(schema).decode(),
    )
    options = {"response_format": {"type": "json_object"}} if mode == "json" else {}
    return StructuredRequest(options, instruction, False, allow_prose=True)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as strict structured output wants it: every object closed
    (``additionalProperties: false``) and no ``default`` keywords."""
    out = copy.deepcopy(schema)
    _close(out)
    return out


def _close(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _close(item)
        return
    if not isinstance(node, dict):
        return
    node.pop("default", None)
    if isinstance(node.get("properties"), dict):
        node["additionalProperties"] = False
    for value in node.values():
        _close(value)


def _all_required(node: Any) -> bool:
    """True when every object in the schema requires all of its properties."""
    if isinstance(node, list):
        return all(_all_required(item) for item in node)
    if not isinstance(node, dict):
        return True
    properties = node.get("properties")
    if isinstance(properties, dict) and set(properties) - set(node.get("required", ())):
        return False
    return all(_all_required(value) for value in node.values())


def _schema_name(model: type[BaseModel]) -> str:
    """A name providers accept for a schema or tool: letters, digits, _ and -."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in model.__name__)
    return cleaned[:64] or "Output"
