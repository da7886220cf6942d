"""Tool definitions in one neutral shape, from whatever the caller has.

A tool may be given as an OpenAI-style dict (``{"type": "function",
"function": {...}}``), a plain ``{"name", "description", "parameters"}`` dict
(``input_schema`` is accepted for Anthropic-shaped ones), a pydantic model
class (its fields are the arguments) or a typed Python function (its
parameters are). Each codec renders ``ToolSpec`` in its provider's format, so
one definition works everywhere. pydantic is imported only when needed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidRequestError

__all__ = ["ToolSpec", "normalize_tool_choice", "normalize_tools", "tool_spec"]

_CHOICE_WORDS = frozenset({"auto", "none", "required"})


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: its name, what it is for, and the JSON schema
    of its arguments (an object schema)."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None

    @property
    def schema(self) -> dict[str, Any]:
        return dict(self.parameters or {"type": "object", "properties": {}})


def tool_spec(tool: object) -> ToolSpec:
    """One tool definition as a ``ToolSpec``."""
    if isinstance(tool, ToolSpec):
        return tool
    if isinstance(tool, Mapping):
        return _from_mapping(tool)
    if isinstance(tool, type) and _is_pydantic_model(tool):
        schema = tool.model_json_schema()  # type: ignore[attr-defined]
        description = schema.pop("description", None) or inspect.getdoc(tool) or ""
        schema.pop("title", None)
        return ToolSpec(tool.__name__, description, schema)
    if callable(tool):
        return _from_function(tool)
    raise InvalidRequestError(
        f"a tool must be a dict, a pydantic model class or a function, not {type(tool).__name__}"
    )


def normalize_tools(tools: Sequence[object]) -> tuple[ToolSpec, ...]:
    specs = tuple(tool_spec(t) for t in tools)
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidRequestError(f"duplicate tool names: {duplicates}")
    return specs


def normalize_tool_choice(choice: object, tools: Sequence[ToolSpec]) -> str:
    """``auto``, ``none``, ``required`` or the name of one tool that must be called."""
    if isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        if not isinstance(name, str):
            raise InvalidRequestError(f"cannot read a tool name from tool_choice={choice!r}")
        choice = name
    if not isinstance(choice, str):
        raise InvalidRequestError(f"tool_choice must be a string or dict, not {choice!r}")
    if choice in _CHOICE_WORDS:
        return choice
    if choice == "any":  # Anthropic's word for "required"
        return "required"
    if choice not in {t.name for t in tools}:
        raise InvalidRequestError(
            f"tool_choice names {choice!r}, which is not among the tools "
            f"({', '.join(t.name for t in tools) or 'none given'})"
        )
    return choice


def _from_mapping(tool: Mapping[str, Any]) -> ToolSpec:
    body: Mapping[str, Any] = tool
    if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
        body = tool["function"]
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"tool definition has no name: {dict(tool)!r:.200}")
    parameters = body.get("parameters", body.get("input_schema"))
    if parameters is not None and not isinstance(parameters, Mapping):
        raise InvalidRequestError(f"tool {name!r}: parameters must be a JSON schema object")
    strict = body.get("strict")
    return ToolSpec(name, body.get("description") or "", parameters, strict)


def _from_function(fn: Callable[..., Any]) -> ToolSpec:
    import pydantic

    signature = inspect.signature(fn)
    hints = inspect.get_annotations(fn, eval_str=True)
    fields: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidRequestError(f"tool {fn.__name__!r}: *args/**kwargs cannot be described")
        annotation = hints.get(name, Any)
        default = ... if param.default is param.empty else param.default
        fields[name] = (annotation, default)
    model = pydantic.create_model(fn.__name__, **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    doc = inspect.getdoc(fn) or ""
    return ToolSpec(fn.__name__, doc.split("\n\n")[0].strip(), schema)


def _is_pydantic_model(cls: type) -> bool:
    return callable(getattr(cls, "model_json_schema", None)) and hasattr(cls, "model_fields")
