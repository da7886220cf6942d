"""An incremental JSON parser (RFC 8259) that turns text chunks into path ops.

``JsonStreamParser`` is a plain object in the h11 style: push text with
``feed(chunk)``, take the ops it returns, call ``flush()`` at the end. It keeps
only the token it is in the middle of (the digits of a number, a partial
literal such as ``tr``, an unfinished ``\\u`` escape, an object key), so every
character is examined a bounded number of times however the text is split.
``chars_examined`` counts those examinations; it grows linearly with the input.

String content, the bulk of LLM JSON, is never looped over in Python: a
compiled regex finds the next quote, backslash or control character and the
text up to it is sliced off whole.

Values come out as ``json.loads`` gives them: integers stay ``int`` (any
size up to Python's digit limit), other numbers are ``float`` (``1E400`` is
``inf``, ``-0.0`` stays negative), escapes are decoded the same way, including
surrogate pairs split anywhere and lone surrogates passed through. Numbers,
``true``, ``false`` and ``null`` are emitted only once complete: ``-``, ``1.``
or ``1e-`` are never shown. Deviations from ``json.loads``, both on the side
of RFC 8259: ``NaN``/``Infinity`` are rejected, and so is a top-level value
followed by anything but whitespace when ``allow_prose=False``.

Text around the JSON (``allow_prose=True``, the default), for model output
that wraps JSON in prose or a markdown fence:

- Leading whitespace is skipped. If the text then starts with a JSON value it
  is parsed. A top-level number or literal counts only when whitespace, a
  backtick or the end of input follows it (``1. First`` and ``3D`` are prose).
- Otherwise the text is prose, skipped up to the first ``{`` or ``[``. That
  simple rule means a ``{`` inside a sentence before the JSON is taken as its
  start and usually fails as malformed JSON.
- A markdown fence (three or more backticks and a language tag such as
  ``json``) starts the search afresh, so a fenced top-level scalar works too.
- Everything after the top-level value is kept verbatim in ``trailing_text``
  (closing fence and trailing prose included) and otherwise ignored.

Depth. Every op carries its whole path, a tuple, so an op at depth ``d``
costs ``O(d)`` to build and to hold, and so do the assembler's and the
patches' uses of it: without a bound, ``[`` repeated ``n`` times would cost
``O(n^2)`` time and memory (20,000 of them took 7 s and 1.5 GB). Paths that
share their prefixes (an op holding its parent's path node and its own key)
would make that ``O(1)``, but every consumer reads ``op.path`` as a tuple,
so the cost would only move there. Instead nesting deeper than ``max_depth``
levels (default 256) is a ``JsonStreamError``, raised at the opening bracket
that goes too deep; then an op costs at most ``O(max_depth)``, and the whole
parse is linear in the input for any input. What a container's ``Close``
carries is the very tuple its ``Start`` op carried, built once. 256 is far
deeper than any schema a model is asked to fill (OpenAI's structured outputs
allow 10 levels) and deeper than pydantic's own JSON parser goes (about 200);
orjson stops at 1024. A document that really is deeper can raise it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

from typing_extensions import deprecated

from .._errors import RillError
from ._ops import (
    AppendString,
    Close,
    Op,
    Path,
    Scalar,
    SetScalar,
    StartArray,
    StartObject,
    StartString,
)

__all__ = ["DEFAULT_MAX_DEPTH", "JsonStreamError", "JsonStreamParser"]

DEFAULT_MAX_DEPTH = 256
"""How many containers may be open at once (see the module docstring)."""


class JsonStreamError(RillError, ValueError):
    """The text is not valid JSON, or it ended before the JSON was complete.

    ``position`` is the character offset in the whole stream where the problem
    was found. ``ops`` holds the ops the failing call produced before it failed,
    so a live document can still be brought up to date.
    """

    def __init__(self, message: str, *, position: int, ops: list[Op] | None = None) -> None:
        super().__init__(f"{message} at character {position}")
        self.reason = message
        self.position = position
        self.ops: list[Op] = ops if ops is not None else []


# Parser states. Kept as plain ints because ``feed`` compares them per token.
_STRING = 0  # inside a string (a key when ``_is_key``)
_AFTER = 1  # after a value inside a container: ',' or a closing bracket
_VALUE = 2  # a value must follow (after ':' or an array's ',')
_ARRAY_FIRST = 3  # just after '[': a value or ']'
_START = 4  # before the top-level value
_OBJECT_FIRST = 5  # just after '{': a key or '}'
_KEY = 6  # after an object's ',': a key
_COLON = 7  # after a key: ':'
_NUMBER = 8  # inside a number
_LITERAL = 9  # inside true / false / null
_PROSE = 10  # skipping text before the JSON
_FENCE = 11  # skipping a markdown fence's language tag
_TENTATIVE = 12  # a top-level literal ended; the next character decides if it was prose
_DONE = 13  # the top-level value is complete
_FAILED = 14  # an error was raised; the parser is unusable
_CLOSED = 15  # flush() returned

_ENDED_IN = {
    _STRING: "inside a string",
    _AFTER: "inside a container",
    _VALUE: "where a value was expected",
    _ARRAY_FIRST: "inside an array",
    _START: "before any JSON value",
    _OBJECT_FIRST: "inside an object",
    _KEY: "where an object key was expected",
    _COLON: "where ':' was expected",
    _NUMBER: "inside a number",
    _LITERAL: "inside a literal",
    _PROSE: "before any JSON value",
    _FENCE: "before any JSON value",
}

_WS = " \t\n\r"
# These patterns end in '*', so they always match: typed as never returning None.
_Matcher = Callable[[str, int], re.Match[str]]
_ws_end = cast(_Matcher, re.compile(r"[ \t\n\r]*").match)
_number_end = cast(_Matcher, re.compile(r"[0-9eE.+\-]*").match)
_fence_tag_end = cast(_Matcher, re.compile(r"[A-Za-z0-9_.+\-]*").match)
_string_special = re.compile(r'["\\\x00-\x1f]').search
_prose_special = re.compile(r"[{\[`]").search
_valid_number = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?").fullmatch
_hex4 = re.compile(r"[0-9a-fA-F]{4}").fullmatch

_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_LITERALS: dict[str, tuple[str, Scalar]] = {
    "t": ("true", True),
    "f": ("false", False),
    "n": ("null", None),
}


class _BadEscape(Exception):
    """Internal: an invalid escape; converted to ``JsonStreamError`` by the caller."""


def _decode_escape(esc: str) -> tuple[int, str] | None:
    """Decode the escape at the start of ``esc`` (which begins with a backslash).

    Returns ``(characters consumed, decoded text)``, or ``None`` when ``esc``
    is too short to decide. At most 12 characters are ever needed: a high
    surrogate's ``\\uXXXX`` and the ``\\uXXXX`` that may pair with it. Pairing
    follows ``json.loads``: a high surrogate followed by an escaped low one is
    one astral character; any other surrogate stands alone.
    """
    if len(esc) < 2:
        return None
    c = esc[1]
    simple = _SIMPLE_ESCAPES.get(c)
    if simple is not None:
        return 2, simple
    if c != "u":
        raise _BadEscape(f"invalid escape {esc[:2]!r}")
    if len(esc) < 6:
        if not _hex4(esc[2:] + "0000"[: 6 - len(esc)]):
            raise _BadEscape("invalid \\uXXXX escape")
        return None
    if not _hex4(esc[2:6]):
        raise _BadEscape("invalid \\uXXXX escape")
    code = int(esc[2:6], 16)
    if not 0xD800 <= code <= 0xDBFF:
        return 6, chr(code)
    # A high surrogate: pair it only with an immediately escaped low surrogate.
    if len(esc) < 8:
        if esc[6:] in ("", "\\"):
            return None
        return 6, chr(code)
    if esc[6:8] != "\\u":
        return 6, chr(code)
    if len(esc) < 12:
        if _hex4(esc[8:] + "0000"[: 12 - len(esc)]):
            return None
        return 6, chr(code)  # the next escape is invalid; it fails on its own
    low = esc[8:12]
    if _hex4(low):
        code2 = int(low, 16)
        if 0xDC00 <= code2 <= 0xDFFF:
            return 12, chr(0x10000 + ((code - 0xD800) << 10) + (code2 - 0xDC00))
    return 6, chr(code)


def _to_number(token: str) -> int | float | None:
    """The value ``json.loads`` gives for a number token, or ``None`` if invalid."""
    if not _valid_number(token):
        return None
    if "." in token or "e" in token or "E" in token:
        return float(token)
    return int(token)  # ValueError beyond sys.get_int_max_str_digits(), as json.loads


class JsonStreamParser:
    """Parse one JSON value from text pushed in chunks; emit path ops.

    >>> p = JsonStreamParser()
    >>> p.feed('{"name": "Al')
    [StartObject(()), StartString(('name',)), AppendString(('name',), 'Al')]
    >>> p.feed('ice", "age": 3')
    [AppendString(('name',), 'ice'), Close(('name',))]
    >>> p.feed("0}")
    [SetScalar(('age',), 30), Close(())]
    >>> p.flush(), p.done
    ([], True)

    ``allow_prose=False`` demands exactly one JSON value with optional
    whitespace around it (tool-call arguments, provider JSON modes).
    ``max_depth`` bounds how many containers may be open at once; deeper
    nesting is a ``JsonStreamError``.
    """

    __slots__ = (
        "_allow_prose",
        "_buf",
        "_esc",
        "_is_key",
        "_keys",
        "_literal",
        "_literal_value",
        "_max_depth",
        "_paths",
        "_pos",
        "_scalar_path",
        "_state",
        "_str_path",
        "_tentative",
        "_ticks",
        "_token_start",
        "_trailing",
        "chars_examined",
        "done",
    )

    def __init__(self, *, allow_prose: bool = True, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self._allow_prose = allow_prose
        self._max_depth = max_depth
        self._state = _START
        self._pos = 0  # characters fed before the current chunk
        # One entry per open container: for an array the index of the current
        # item (-1 before the first), for an object the current key ("" before
        # the first). So the path of the current value is tuple(keys).
        self._keys: list[str | int] = []
        # The path of each open container, built once for its Start op and
        # given again to its Close op.
        self._paths: list[Path] = []
        self._buf: list[str] = []  # the unfinished token: number, key, or string text
        self._esc = ""  # an unfinished escape sequence, backslash included
        self._is_key = False
        self._str_path: Path = ()
        self._scalar_path: Path = ()
        self._literal = ""  # the rest of the literal still expected
        self._literal_value: Scalar = None
        self._token_start = 0
        self._tentative = False  # a top-level number/literal that may yet be prose
        self._ticks = 0  # backticks seen at the end of the previous prose chunk
        self._trailing: list[str] = []
        self.chars_examined = 0
        """Characters examined so far, counted once per pass over them."""
        self.done = False
        """True once the top-level value is complete."""

    @property
    def trailing_text(self) -> str:
        """Text after the top-level value, kept verbatim (prose mode)."""
        return "".join(self._trailing)

    @property
    def position(self) -> int:
        """Characters fed so far."""
        return self._pos

    def _fail(self, message: str, position: int, ops: list[Op]) -> JsonStreamError:
        self._state = _FAILED
        return JsonStreamError(message, position=position, ops=ops)

    def feed(self, text: str) -> list[Op]:
        """Parse the next chunk; return the ops it completes, in document order.

        Each open string gets at most one ``AppendString`` per call.
        """
        state = self._state
        n = len(text)
        if state >= _FAILED:
            misuse = "feed() after flush()" if state == _CLOSED else "feed() after an error"
            raise JsonStreamError(misuse, position=self._pos)
        is_key = self._is_key
        # Fast path: the middle of a long string value, the common case by far.
        if state == _STRING and not is_key and not self._esc and n:
            if _string_special(text) is None:
                self._pos += n
                self.chars_examined += n
                return [AppendString(self._str_path, text)]

        ops: list[Op] = []
        pos = self._pos
        buf = self._buf
        keys = self._keys
        paths = self._paths
        examined = 0
        i = 0
        str_new = False  # the open value string started in this call

        if self._esc:  # finish an escape split across chunks
            old = self._esc
            esc = old + text[: 12 - len(old)]
            try:
                decoded = _decode_escape(esc)
            except _BadEscape as exc:
                raise self._fail(str(exc), pos - len(old), ops) from None
            if decoded is None:
                self._esc = esc
                i = n
            else:
                self._esc = ""
                buf.append(decoded[1])
                i = decoded[0] - len(old)
                if i < 0:
                    # A lone high surrogate, and the escape after it began in
                    # an earlier chunk too: scan that escape again from here.
                    text = old[i:] + text
                    pos += i
                    n = len(text)
                    i = 0
            examined += i

        while i < n:
            if state == _STRING:
                m = _string_special(text, i)
                if m is None:
                    buf.append(text[i:])
                    examined += n - i
                    break
                j = m.start()
                examined += j + 1 - i
                if j > i:
                    buf.append(text[i:j])
                c = text[j]
                if c == '"':
                    i = j + 1
                    s = "".join(buf)
                    buf.clear()
                    if is_key:
                        keys[-1] = s
                        is_key = False
                        state = _COLON
                        continue
                    path = self._str_path
                    if str_new:
                        ops.append(SetScalar(path, s))
                        str_new = False
                    else:
                        if s:
                            ops.append(AppendString(path, s))
                        ops.append(Close(path))
                    state = _AFTER if keys else _DONE
                elif c == "\\":
                    esc = text[j : j + 12]
                    try:
                        decoded = _decode_escape(esc)
                    except _BadEscape as exc:
                        raise self._fail(str(exc), pos + j, ops) from None
                    if decoded is None:
                        self._esc = esc
                        examined += n - j - 1
                        break
                    buf.append(decoded[1])
                    examined += decoded[0] - 1
                    i = j + decoded[0]
                else:
                    raise self._fail(f"control character {c!r} in string (escape it)", pos + j, ops)
                continue

            c = text[i]
            if c in _WS and state <= _COLON:
                e = _ws_end(text, i + 1).end()
                examined += e - i
                i = e
                continue

            if state == _AFTER:
                examined += 1
                if c == ",":
                    state = _VALUE if type(keys[-1]) is int else _KEY
                    i += 1
                elif c == "}" or c == "]":
                    if (c == "]") is not (type(keys[-1]) is int):
                        raise self._fail(f"mismatched {c!r}", pos + i, ops)
                    keys.pop()
                    ops.append(Close(paths.pop()))
                    state = _AFTER if keys else _DONE
                    i += 1
                else:
                    closer = "']'" if type(keys[-1]) is int else "'}'"
                    raise self._fail(f"expected ',' or {closer}, got {c!r}", pos + i, ops)

            elif state <= _START:  # _VALUE, _ARRAY_FIRST, _START: a value starts here
                examined += 1
                if keys:
                    if c == "]" and state == _ARRAY_FIRST:
                        keys.pop()
                        ops.append(Close(paths.pop()))
                        state = _AFTER if keys else _DONE
                        i += 1
                        continue
                    k = keys[-1]
                    if type(k) is int:
                        keys[-1] = k + 1
                    path = tuple(keys)
                else:
                    path = ()
                if c == '"':
                    self._str_path = path
                    str_new = True
                    state = _STRING
                    i += 1
                elif c == "{" or c == "[":
                    if len(keys) >= self._max_depth:
                        message = (
                            f"JSON nested deeper than {self._max_depth} levels"
                            " (JsonStreamParser's max_depth)"
                        )
                        raise self._fail(message, pos + i, ops)
                    if c == "{":
                        ops.append(StartObject(path))
                        keys.append("")
                        state = _OBJECT_FIRST
                    else:
                        ops.append(StartArray(path))
                        keys.append(-1)
                        state = _ARRAY_FIRST
                    paths.append(path)
                    i += 1
                elif c in "-0123456789":
                    self._scalar_path = path
                    self._token_start = pos + i
                    self._tentative = state == _START and self._allow_prose
                    state = _NUMBER
                elif c in "tfn":
                    self._scalar_path = path
                    self._token_start = pos + i
                    self._tentative = state == _START and self._allow_prose
                    word, self._literal_value = _LITERALS[c]
                    self._literal = word[1:]
                    state = _LITERAL
                    i += 1
                elif state == _START and self._allow_prose:
                    state = _PROSE
                else:
                    raise self._fail(f"expected a JSON value, got {c!r}", pos + i, ops)

            elif state == _COLON:
                examined += 1
                if c != ":":
                    raise self._fail(f"expected ':', got {c!r}", pos + i, ops)
                state = _VALUE
                i += 1

            elif state <= _KEY:  # _OBJECT_FIRST, _KEY
                examined += 1
                if c == '"':
                    is_key = True
                    state = _STRING
                    i += 1
                elif c == "}" and state == _OBJECT_FIRST:
                    keys.pop()
                    ops.append(Close(paths.pop()))
                    state = _AFTER if keys else _DONE
                    i += 1
                else:
                    raise self._fail(f"expected an object key, got {c!r}", pos + i, ops)

            elif state == _NUMBER:
                e = _number_end(text, i).end()
                if e > i:
                    buf.append(text[i:e])
                if e == n:
                    examined += n - i
                    break
                examined += e + 1 - i
                i = e
                token = "".join(buf)
                buf.clear()
                if self._tentative:
                    self._tentative = False
                    if text[e] not in "\t\n\r `":
                        state = _PROSE  # "1. First", "3D printing": not JSON
                        continue
                    value = self._number(token, ops)
                    if value is None:
                        state = _PROSE
                        continue
                else:
                    value = self._number(token, ops)
                    if value is None:
                        raise self._fail(f"invalid number {token!r}", self._token_start, ops)
                ops.append(SetScalar(self._scalar_path, value))
                state = _AFTER if keys else _DONE

            elif state == _LITERAL:
                rest = self._literal
                got = text[i : i + len(rest)]
                examined += len(got)
                if not rest.startswith(got):
                    if self._tentative:
                        self._tentative = False
                        state = _PROSE
                        continue
                    k = 0
                    while got[k] == rest[k]:
                        k += 1
                    raise self._fail(f"invalid literal, got {got[k]!r}", pos + i + k, ops)
                i += len(got)
                if len(got) < len(rest):
                    self._literal = rest[len(got) :]
                elif self._tentative:
                    self._tentative = False
                    state = _TENTATIVE
                else:
                    ops.append(SetScalar(self._scalar_path, self._literal_value))
                    state = _AFTER if keys else _DONE

            elif state == _DONE:
                if self._allow_prose:
                    self._trailing.append(text[i:])
                    break
                examined += 1
                if c not in _WS:
                    raise self._fail(f"extra data after the JSON value: {c!r}", pos + i, ops)
                e = _ws_end(text, i + 1).end()
                examined += e - i - 1
                i = e

            elif state == _PROSE:
                m = _prose_special(text, i)
                if m is None:
                    examined += n - i
                    self._ticks = 0
                    break
                j = m.start()
                if text[j] != "`":
                    examined += j - i
                    i = j
                    state = _START
                    continue
                ticks = self._ticks if j == i else 0
                k = j
                while k < n and text[k] == "`":
                    k += 1
                examined += k - i
                ticks += k - j
                i = k
                if ticks >= 3:
                    ticks = 0
                    state = _FENCE
                elif k < n:
                    ticks = 0
                self._ticks = ticks

            elif state == _FENCE:
                e = _fence_tag_end(text, i).end()
                examined += min(e + 1, n) - i
                i = e
                if e < n:
                    state = _START

            else:  # _TENTATIVE: a top-level literal is a value only if a separator follows
                if c in "\t\n\r `":
                    ops.append(SetScalar((), self._literal_value))
                    state = _DONE
                else:
                    state = _PROSE

        if state == _STRING and not is_key:
            path = self._str_path
            if str_new:
                ops.append(StartString(path))
            if buf:
                ops.append(AppendString(path, "".join(buf)))
                buf.clear()
        self._state = state
        self._is_key = is_key
        self._pos = pos + n
        self.chars_examined += examined
        self.done = state == _DONE
        return ops

    def _number(self, token: str, ops: list[Op]) -> int | float | None:
        try:
            return _to_number(token)
        except ValueError as exc:  # more digits than int() accepts
            raise self._fail(str(exc), self._token_start, ops) from None

    @deprecated("JsonStreamParser.close() is deprecated; use flush()")
    def close(self) -> list[Op]:
        """Deprecated: ``flush()``, the end-of-input verb of every incremental
        decoder in rill. Kept for one release."""
        return self.flush()

    def flush(self) -> list[Op]:
        """Signal the end of input; return the last ops (a top-level number).

        Raises ``JsonStreamError`` if the JSON is incomplete or none was found.
        """
        state = self._state
        ops: list[Op] = []
        if state == _NUMBER and not self._keys:
            token = "".join(self._buf)
            self._buf.clear()
            value = self._number(token, ops)
            if value is not None:
                ops.append(SetScalar((), value))
                state = _DONE
            elif self._tentative:
                state = _PROSE
            else:
                raise self._fail(f"invalid number {token!r}", self._token_start, ops)
        elif state == _TENTATIVE:
            ops.append(SetScalar((), self._literal_value))
            state = _DONE
        if state == _DONE:
            self._state = _CLOSED
            self.done = True
            return ops
        if state == _CLOSED:
            return ops
        where = _ENDED_IN.get(state, "")
        message = "no JSON value found" if state in (_START, _PROSE, _FENCE) else "incomplete JSON"
        raise self._fail(f"{message}: input ended {where}".rstrip(), self._pos, ops)


JsonStreamError.__module__ = "rill"  # public as rill.JsonStreamError
