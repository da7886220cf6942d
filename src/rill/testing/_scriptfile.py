"""Scripts written in a file, for ``python -m rill.testing --script FILE``.

A JSON or YAML document (YAML needs PyYAML) of plain values, so a demo, a
front-end developer or a test in another language can script the emulator
without writing Python::

    ttft: 0.2                 # pacing for every entry that sets none
    tokens_per_second: 40
    scripts:                  # answer the requests in this order
      - text: "Hello **there**"
      - reasoning: "Two and two..."
        text: "4"
      - tool_calls: [{name: get_weather, arguments: {city: Paris}}]
      - json: {name: Alex, interests: [jazz]}   # text, or a forced tool's arguments
      - status: 429
        headers: {retry-after: "1"}
      - text: "cut short"
        faults: [{close_after: 300}, {stall_after: {n_bytes: 10, seconds: 1}}]
    default: auto             # after the list: "auto" (fit each request) or an entry

Unknown keys are errors that name where they are (``scripts[2].faults[0]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import orjson

from ._intent import AutoReply, Intent
from ._script import Fault, FaultKind, RecordedRequest, Reply, Script, ScriptedToolCall
from ._server import Responder

__all__ = ["ScriptFile", "ScriptFileError", "load_scripts", "parse_scripts"]

_REPLY_KEYS = frozenset(
    {"text", "reasoning", "reasoning_field", "refusal", "tool_calls", "finish_reason", "json"}
)
_SCRIPT_KEYS = frozenset(
    {"model", "usage", "ttft", "tokens_per_second", "status", "headers", "error", "faults"}
)
_PACING = ("ttft", "tokens_per_second")
_FAULTS = frozenset(get_args(FaultKind))


class ScriptFileError(ValueError):
    """A script file that cannot be read, with where the mistake is."""


@dataclass(frozen=True, slots=True)
class ScriptFile:
    """The scripts of a file: ``scripts`` answer requests in order, then
    ``default`` answers every later one."""

    scripts: tuple[Script | Responder, ...] = ()
    default: Script | Responder = field(default_factory=AutoReply)


@dataclass(frozen=True, slots=True)
class JsonReply:
    """A structured reply: ``value`` as the arguments of the tool a request
    forces (tool mode), else as the text (JSON-schema and JSON modes)."""

    value: Any
    pacing: Mapping[str, Any] = field(default_factory=dict, hash=False)
    script: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __call__(self, request: RecordedRequest, intent: Intent) -> Script:
        if intent.forced_tool is not None:
            call = ScriptedToolCall(intent.forced_tool, self.value)
            reply = Reply(tool_calls=(call,))
        else:
            reply = Reply(text=orjson.dumps(self.value).decode())
        return Script(replies=(reply,), **self.pacing, **self.script)


def load_scripts(path: str | Path) -> ScriptFile:
    """Read a script file: ``.yaml`` / ``.yml`` as YAML (PyYAML must be
    installed), anything else as JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            raise ScriptFileError(
                f"{path} is YAML, which needs PyYAML: pip install pyyaml (or write it as JSON)"
            ) from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScriptFileError(f"{path} is not valid YAML: {exc}") from None
    else:
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ScriptFileError(f"{path} is not valid JSON: {exc}") from None
    return parse_scripts(document, source=str(path))


def parse_scripts(document: Any, *, source: str = "scripts") -> ScriptFile:
    """A ``ScriptFile`` from an already parsed document."""
    where = _Where(source)
    top = where.mapping(document, allowed={"scripts", "default", *_PACING})
    pacing = {key: top[key] for key in _PACING if key in top}
    entries = top.get("scripts", [])
    if not isinstance(entries, list):
        raise where.error("'scripts' must be a list")
    scripts = tuple(
        _entry(entry, pacing, where.child(f"scripts[{i}]")) for i, entry in enumerate(entries)
    )
    default = _entry(top.get("default", "auto"), pacing, where.child("default"))
    return ScriptFile(scripts, default)


def _entry(entry: Any, pacing: Mapping[str, Any], where: _Where) -> Script | Responder:
    if entry == "auto":
        return AutoReply(**pacing)
    if isinstance(entry, str):
        entry = {"text": entry}
    spec = where.mapping(entry, allowed=_REPLY_KEYS | _SCRIPT_KEYS | {"choices"})
    try:
        own = {**pacing, **{key: spec[key] for key in _PACING if key in spec}}
        options: dict[str, Any] = {}
        for key in ("model", "usage", "status"):
            if key in spec:
                options[key] = tuple(spec[key]) if isinstance(spec[key], list) else spec[key]
        if "headers" in spec:
            options["headers"] = {str(k): str(v) for k, v in where.mapping(spec["headers"]).items()}
        if "error" in spec:
            options["error_body"] = spec["error"]
        if "faults" in spec:
            options["faults"] = _faults(spec["faults"], where.child("faults"))
        if "json" in spec:
            if set(spec) & (_REPLY_KEYS - {"json"}) or "choices" in spec:
                raise where.error("'json' is a whole reply: give it without text or tool calls")
            Script(**own, **options)  # checks the pacing and status now, not per request
            return JsonReply(spec["json"], own, options)
        if "choices" in spec:
            if set(spec) & _REPLY_KEYS:
                raise where.error("give reply fields inside 'choices', not beside it")
            if not isinstance(spec["choices"], list) or not spec["choices"]:
                raise where.error("'choices' must be a non-empty list")
            replies = tuple(
                _reply(
                    where.mapping(c, allowed=_REPLY_KEYS - {"json"}), where.child(f"choices[{i}]")
                )
                for i, c in enumerate(spec["choices"])
            )
        else:
            replies = (_reply(spec, where),)
        return Script(replies=replies, **own, **options)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ScriptFileError):
            raise
        raise where.error(str(exc)) from None


def _reply(spec: Mapping[str, Any], where: _Where) -> Reply:
    calls = []
    for i, call in enumerate(spec.get("tool_calls") or ()):
        at = where.child(f"tool_calls[{i}]")
        fields = at.mapping(call, allowed={"name", "arguments", "id"})
        if not isinstance(fields.get("name"), str):
            raise at.error("a tool call needs a 'name'")
        calls.append(
            ScriptedToolCall(fields["name"], fields.get("arguments", {}), fields.get("id"))
        )
    texts = {
        key: spec[key] for key in ("text", "reasoning", "reasoning_field", "refusal") if key in spec
    }
    for key, value in texts.items():
        if not isinstance(value, str):
            raise where.error(f"'{key}' must be a string")
    return Reply(**texts, tool_calls=tuple(calls), finish_reason=spec.get("finish_reason"))


def _faults(faults: Any, where: _Where) -> tuple[Fault, ...]:
    if not isinstance(faults, list):
        raise where.error("'faults' must be a list of {kind: arguments}")
    out = []
    for i, item in enumerate(faults):
        at = where.child(f"[{i}]")
        spec = at.mapping(item)
        if len(spec) != 1:
            raise at.error("a fault is one {kind: arguments} pair")
        ((kind, args),) = spec.items()
        if kind not in _FAULTS:
            raise at.error(f"unknown fault {kind!r}; known: {', '.join(sorted(_FAULTS))}")
        make = getattr(Fault, kind)
        try:
            if isinstance(args, Mapping):
                fault = make(**{k: _bytes(k, v) for k, v in args.items()})
            elif isinstance(args, list):
                fault = make(*args)
            else:
                fault = make(args)
        except TypeError as exc:
            raise at.error(f"{kind}: {exc}") from None
        out.append(fault)
    return tuple(out)


def _bytes(name: str, value: Any) -> Any:
    """Fault arguments that are bytes (``data``, ``prefix``) may be written as text."""
    return value.encode() if name in ("data", "prefix") and isinstance(value, str) else value


class _Where:
    """A location in the document, for error messages."""

    def __init__(self, path: str) -> None:
        self.path = path

    def child(self, part: str) -> _Where:
        return _Where(self.path + part if part.startswith("[") else f"{self.path}.{part}")

    def error(self, message: str) -> ScriptFileError:
        return ScriptFileError(f"{self.path}: {message}")

    def mapping(
        self, value: Any, *, allowed: frozenset[str] | set[str] | None = None
    ) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(f"expected a mapping, got {type(value).__name__}")
        if allowed is not None:
            unknown = sorted(str(k) for k in value if k not in allowed)
            if unknown:
                raise self.error(
                    f"unknown key {unknown[0]!r}; expected one of {', '.join(sorted(allowed))}"
                )
        return dict(value)
