"""Path ops as JSON-patch-like dicts, for sending a live document to browsers.

Patches follow RFC 6902's shape with RFC 6901 pointers (``~`` is ``~0``, ``/``
is ``~1``; the root is ``""``), plus one operation RFC 6902 lacks:

- ``{"op": "add", "path": "/a/0", "value": ...}``: a new value. Containers
  arrive empty (``{}``, ``[]``) and a string that is still growing as ``""``.
  Array items are added at their explicit index, which is always the end of
  the array, so an RFC 6902 library applies these as they are.
- ``{"op": "append", "path": "/a/b", "value": "text"}``: extend a string.
- ``{"op": "close", "path": "/a"}`` (only with ``closes=True``): the value at
  the path is complete; nothing to apply.

Each piece of string text is sent once, so the bytes sent grow with the size
of the document, not with its square. Every patch carries its full pointer:
a value nested ``d`` levels deep costs ``O(d)`` bytes of path, and so does
each ``append`` (one per growing string per chunk).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ._ops import AppendString, Close, Op, Path, SetScalar, StartArray, StartObject, StartString

__all__ = ["apply_patch", "apply_patches", "to_pointer", "to_patches"]


def to_pointer(path: Path) -> str:
    """The RFC 6901 JSON pointer for ``path``; ``""`` for the root."""
    if not path:
        return ""
    joined = "/".join(map(str, path))
    if "~" not in joined and joined.count("/") == len(path) - 1:
        return "/" + joined  # no key needed escaping (the common case, done in C)
    return "/" + "/".join(
        p.replace("~", "~0").replace("/", "~1") if type(p) is str else str(p) for p in path
    )


def to_patches(ops: Iterable[Op], *, closes: bool = False) -> list[dict[str, Any]]:
    """One patch per op (``Close`` ops only with ``closes=True``)."""
    patches: list[dict[str, Any]] = []
    last_path: Path | None = None
    pointer = ""
    for op in ops:
        path = op.path
        if path is not last_path:
            pointer = to_pointer(path)
            last_path = path
        # ``type(op) is`` narrows op for mypy, so no branch needs a cast.
        if type(op) is AppendString:
            patches.append({"op": "append", "path": pointer, "value": op.text})
        elif type(op) is SetScalar:
            patches.append({"op": "add", "path": pointer, "value": op.value})
        elif type(op) is StartString:
            patches.append({"op": "add", "path": pointer, "value": ""})
        elif type(op) is StartObject:
            patches.append({"op": "add", "path": pointer, "value": {}})
        elif type(op) is StartArray:
            patches.append({"op": "add", "path": pointer, "value": []})
        elif type(op) is Close:
            if closes:
                patches.append({"op": "close", "path": pointer})
        else:
            raise TypeError(f"not an op: {op!r}")
    return patches


def _parse_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"invalid JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, pointer: str, *, end_ok: bool) -> int:
    if token == "-" and end_ok:
        return len(container)
    if not token.isdigit() or (token.startswith("0") and token != "0"):
        raise ValueError(f"invalid array index in {pointer!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not end_ok):
        raise ValueError(f"array index out of range in {pointer!r}")
    return index


def apply_patch(doc: Any, patch: dict[str, Any]) -> Any:
    """Apply one patch to ``doc`` in place; return the document (new if the root changed)."""
    op = patch["op"]
    pointer = patch["path"]
    tokens = _parse_pointer(pointer)
    if op == "close":
        return doc
    if op not in ("add", "append"):
        raise ValueError(f"unsupported patch op {op!r}")
    value = patch["value"]
    if not tokens:
        if op == "add":
            return _copy(value)
        if not isinstance(doc, str):
            raise ValueError("append to a value that is not a string")
        return doc + value
    parent = doc
    for token in tokens[:-1]:
        if isinstance(parent, list):
            parent = parent[_index(parent, token, pointer, end_ok=False)]
        elif isinstance(parent, dict):
            parent = parent[token]
        else:
            raise ValueError(f"path {pointer!r} goes through a scalar")
    last = tokens[-1]
    if isinstance(parent, list):
        index = _index(parent, last, pointer, end_ok=op == "add")
        if op == "add":
            parent.insert(index, _copy(value))
        else:
            parent[index] = _appended(parent[index], value)
    elif isinstance(parent, dict):
        if op == "add":
            parent[last] = _copy(value)
        else:
            parent[last] = _appended(parent[last], value)
    else:
        raise ValueError(f"path {pointer!r} goes through a scalar")
    return doc


def _copy(value: Any) -> Any:
    # Never share a patch's container with the document: later patches mutate it.
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _appended(current: Any, text: str) -> str:
    if not isinstance(current, str):
        raise ValueError("append to a value that is not a string")
    return current + text


def apply_patches(doc: Any, patches: Iterable[dict[str, Any]]) -> Any:
    """Apply ``patches`` in order; return the document.

    Consecutive appends to one string are joined first, so replaying a whole
    stream costs O(total size) rather than copying a long string per chunk.
    """
    run: list[str] = []
    run_path: str | None = None
    for patch in patches:
        if patch["op"] == "append":
            if patch["path"] == run_path:
                run.append(patch["value"])
                continue
            if run_path is not None:
                doc = apply_patch(doc, {"op": "append", "path": run_path, "value": "".join(run)})
            run_path, run = patch["path"], [patch["value"]]
            continue
        if run_path is not None:
            doc = apply_patch(doc, {"op": "append", "path": run_path, "value": "".join(run)})
            run_path, run = None, []
        doc = apply_patch(doc, patch)
    if run_path is not None:
        doc = apply_patch(doc, {"op": "append", "path": run_path, "value": "".join(run)})
    return doc
