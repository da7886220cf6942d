"""``rill object SCHEMA PROMPT``: a structured answer, shown as it fills in.

SCHEMA is a JSON Schema file or ``module:Model`` (a pydantic model class). A
JSON Schema becomes a pydantic model here (types, required fields, enums,
nested objects and arrays, local ``$ref``). On a terminal the partial object
is redrawn with a bar of completed fields; in a pipe the final object is
printed as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any, Literal, TextIO

import orjson

from .._errors import ConfigurationError
from ._chat import choose_model

__all__ = ["ObjectView", "draw_live", "load_schema", "model_from_schema", "run_object"]


def run_object(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..structured import stream_object

    schema = load_schema(args.schema)
    model = choose_model(args, err)
    options: dict[str, Any] = {}
    for name in ("temperature", "max_tokens", "timeout", "base_url"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    live = out.isatty() and not args.plain
    stream = stream_object(args.prompt, schema, model=model, system=args.system, **options)
    with stream:
        if live:
            draw_live(stream, out, schema.__name__)
            return 0
        for _ in stream:
            pass
        final = stream.final
    out.write(orjson.dumps(final.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
    out.write("\n")
    out.flush()
    return 0


def draw_live(objects: Any, out: TextIO, name: str) -> Any:
    """Redraw a streaming object and its field bar on a terminal; the final object."""
    from rich.live import Live

    from ..structured import progress
    from ._console import console

    view = ObjectView(name)
    shown = -1
    with Live(view.render(None, None), console=console(out), refresh_per_second=12) as board:
        for partial in objects:
            done = progress(partial)
            # A new count of complete fields is drawn at once, not at the next refresh.
            board.update(
                view.render(partial.model_dump(mode="json"), done), refresh=done.completed != shown
            )
            shown = done.completed
        final = objects.final
        board.update(view.render(final.model_dump(mode="json"), progress(final)), refresh=True)
    return final


class ObjectView:
    """A partial object as indented JSON, with a bar of completed fields."""

    def __init__(self, name: str) -> None:
        self.name = name

    def render(self, document: Any, done: Any) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.syntax import Syntax
        from rich.table import Table
        from rich.text import Text

        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() if document else "{}"
        completed, total = (done.completed, done.total) if done is not None else (0, 0)
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=max(total, 1), completed=completed, width=30),
            Text(f"{completed}/{total} fields", style="bold" if completed == total else "dim"),
        )
        return Group(Text(self.name, style="bold"), Syntax(text, "json", theme="ansi_dark"), bar)


def load_schema(spec: str) -> type[Any]:
    """A pydantic model from ``module:Model`` or a JSON Schema file."""
    path = Path(spec)
    if not path.exists() and ":" in spec:
        module_name, _, attr = spec.partition(":")
        sys.path.insert(0, str(Path.cwd()))
        try:
            found = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(f"cannot load {spec!r}: {exc}") from None
        finally:
            sys.path.pop(0)
        return found  # type: ignore[no-any-return]
    try:
        schema = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"cannot read {spec}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(f"{spec} is not JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise ConfigurationError(f"{spec} is not a JSON Schema object")
    return model_from_schema(schema, path.stem.title().replace("-", "").replace("_", ""))


def model_from_schema(schema: dict[str, Any], name: str = "Object") -> type[Any]:
    """A pydantic model for an object JSON Schema (the common subset)."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    return _model(schema, str(schema.get("title") or name), defs)


def _model(node: dict[str, Any], name: str, defs: dict[str, Any]) -> type[Any]:
    from pydantic import create_model

    properties = node.get("properties") or {}
    if not properties:
        raise ConfigurationError(f"schema {name!r} has no properties to fill in")
    required = set(node.get("required", list(properties)))
    fields: dict[str, Any] = {}
    for key, sub in properties.items():
        kind = _type(sub, key, defs)
        fields[key] = (kind, ...) if key in required else (kind | None, None)
    model: type[Any] = create_model(name, **fields)
    return model


def _type(node: Any, name: str, defs: dict[str, Any]) -> Any:
    if not isinstance(node, dict):
        return Any
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = ref.rpartition("/")[2]
        return _type(defs.get(target), target, defs)
    if isinstance(node.get("enum"), list) and node["enum"]:
        return Literal[tuple(node["enum"])]
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and options:
            kinds = [_type(o, name, defs) for o in options if o.get("type") != "null"]
            result = kinds[0] if kinds else Any
            for other in kinds[1:]:
                result = result | other
            return result | None if len(kinds) < len(options) else result
    kind = node.get("type")
    if kind == "object":
        if node.get("properties"):
            return _model(node, str(node.get("title") or name.title()), defs)
        return dict[str, Any]
    if kind == "array":
        return list[_type(node.get("items"), name, defs)]  # type: ignore[misc]
    scalars: dict[Any, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}
    return scalars.get(kind, Any)
