"""A top-level JSON array streamed incrementally, decoded element by element.

Gemini's ``streamGenerateContent`` without ``alt=sse`` sends one pretty-printed
array, ``[{...}\\n,\\r\\n{...}\\n]``, an element at a time. ``JSONArrayDecoder``
is a plain object (push bytes with ``decode(chunk)``, get back every element
completed by them, parsed) in the same style as ``SSEDecoder``.

Each byte is looked at a bounded number of times, however the input is split:
a regular expression steps from one token to the next, a token being a whole
string (matched in one step, however long) or a bracket; a string that runs
past the end of a chunk is continued with ``find`` from where it stopped; the
string, depth and element-start state carries over between chunks. An element
is handed out as soon as the brace (or bracket, or quote) that closes it
arrives, not when the next comma does, and is parsed once, by orjson, which
also validates it. Consumed bytes are dropped, so the buffer holds at most the
unfinished element.

What lies between elements is checked (commas, whitespace); a scalar element
(``[1, "a", true]``) is delivered when the comma or bracket after it arrives,
since only then is it known to be whole.

An element may be at most ``max_element_size`` bytes, 16 MiB by default
(``wire._limits``): an element that never ends would otherwise be buffered
without end. What the buffer holds after a chunk is scanned is the unfinished
element (with the whitespace before it), so one length check per chunk bounds
it; an element completed within one chunk is checked when it is handed out,
so the outcome does not depend on how the bytes were split. A larger element
is a ``ProtocolError``, held back like any other until the elements before it
are delivered.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .._errors import ProtocolError
from ._limits import DEFAULT_MAX_EVENT_BYTES, too_large

__all__ = ["JSONArrayDecoder"]

# A whole string (one match, however long), or one structural byte; a lone
# quote is a string that has not ended yet. Commas matter only between elements.
_STRING = rb'"(?:[^"\\]++|\\.)*+"'
_BETWEEN = re.compile(_STRING + rb'|[\[\]{}",]', re.DOTALL)
_WITHIN = re.compile(_STRING + rb'|[\[\]{}"]', re.DOTALL)
_QUOTE, _BACKSLASH, _COMMA = 0x22, 0x5C, 0x2C
_OPENERS = frozenset(b"{[")

_BEFORE, _INSIDE, _AFTER = 0, 1, 2


class JSONArrayDecoder:
    """Incremental decoder: ``decode(bytes) -> list`` of the elements completed.

    A malformed byte raises :class:`~rill.ProtocolError`; elements completed
    earlier in the same input are returned first and the error is raised by
    the next ``decode`` or ``flush`` call, so nothing decoded is lost.
    """

    __slots__ = (
        "_buf",
        "_depth",
        "_error",
        "_expect",
        "_gap",
        "_in_string",
        "_max",
        "_pos",
        "_start",
        "_state",
        "elements_seen",
    )

    def __init__(self, *, max_element_size: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_element_size
        self._buf = bytearray()
        self._pos = 0  # next byte of _buf to scan
        self._state = _BEFORE
        self._depth = 0  # nesting inside the current element; 0 between elements
        self._in_string = False
        self._start = -1  # where the current element began in _buf, or -1
        self._gap = 0  # where the bytes since the last element or comma begin
        self._expect = True  # a value may come next (just after "[" or ",")
        self._error: ProtocolError | None = None
        self.elements_seen = 0

    @property
    def started(self) -> bool:
        """True once the opening ``[`` has arrived."""
        return self._state != _BEFORE

    @property
    def complete(self) -> bool:
        """True once the closing ``]`` of the array has arrived."""
        return self._state == _AFTER

    @property
    def truncated(self) -> bool:
        """True when the input so far ends inside an element."""
        return self._state == _INSIDE and (self._start >= 0 or bool(self._buf[self._gap :].strip()))

    def decode(self, chunk: bytes) -> list[Any]:
        if self._error is not None:
            raise self._error
        if not chunk:
            return []
        if self._state == _BEFORE:
            chunk = chunk.lstrip()
            if not chunk:
                return []
            if chunk[0] != 0x5B:  # "["
                raise ProtocolError(f"expected a JSON array, got {chunk[:200]!r}")
            self._state = _INSIDE
            chunk = chunk[1:]
        elif self._state == _AFTER:
            if chunk.strip():
                raise ProtocolError(f"data after the end of the JSON array: {chunk[:200]!r}")
            return []
        self._buf += chunk
        out: list[Any] = []
        try:
            self._scan(out)
            if len(self._buf) > self._max:
                raise self._too_large()
        except ProtocolError as exc:
            if not out:
                raise
            self._error = exc
        return out

    def flush(self) -> list[Any]:
        """End of input. Raises an error held back by ``decode``; an element
        cut off by the end of input is never delivered (see ``truncated``)."""
        if self._error is not None:
            raise self._error
        return []

    def _scan(self, out: list[Any]) -> None:
        buf = self._buf
        end = len(buf)
        pos = self._pos
        depth = self._depth
        in_string = self._in_string
        between = _BETWEEN.search
        within = _WITHIN.search
        try:
            while pos < end:
                if in_string:  # a string that ran past the end of an earlier chunk
                    quote = buf.find(b'"', pos)
                    if quote < 0:
                        pos = end
                        break
                    pos = quote + 1
                    before = quote - 1
                    while buf[before] == _BACKSLASH:  # the opening quote stops this
                        before -= 1
                    if (quote - 1 - before) & 1:
                        continue  # an escaped quote
                    in_string = False
                    if not depth:  # a string element
                        self._element(out, pos)
                    continue
                match = within(buf, pos) if depth else between(buf, pos)
                if match is None:
                    pos = end
                    break
                at = match.start()
                pos = match.end()
                byte = buf[at]
                if byte == _QUOTE:
                    if not depth:
                        self._begin(at)
                    if pos - at == 1:  # no closing quote yet
                        in_string = True
                    elif not depth:
                        self._element(out, pos)
                elif byte in _OPENERS:
                    if not depth:
                        self._begin(at)
                    depth += 1
                elif byte == _COMMA:  # only looked for between elements
                    self._between(out, at, closing=False)
                elif depth:
                    depth -= 1
                    if not depth:
                        self._element(out, pos)
                elif byte == 0x5D:  # the array's "]"
                    self._between(out, at, closing=True)
                    self._state = _AFTER
                    rest = bytes(buf[pos:])
                    if rest.strip():
                        raise ProtocolError(f"data after the end of the JSON array: {rest[:200]!r}")
                    pos = end
                    break
                else:
                    raise ProtocolError(f"unexpected '}}' in a JSON array: {_near(buf, at)}")
        finally:
            self._pos, self._depth, self._in_string = pos, depth, in_string
            self._trim()

    def _begin(self, at: int) -> None:
        """An element starts at ``at``: only whitespace may precede it since
        the last comma."""
        if not self._expect or self._buf[self._gap : at].strip():
            raise ProtocolError(f"missing ',' between JSON array elements: {_near(self._buf, at)}")
        self._expect = False
        self._start = at

    def _too_large(self) -> ProtocolError:
        self._buf = bytearray()  # let the memory go: the stream is unusable now
        self._pos = self._gap = 0
        self._start = -1
        self._error = too_large("an element of the JSON array", self._max)
        return self._error

    def _element(self, out: list[Any], end: int) -> None:
        if end - self._start > self._max:
            raise self._too_large()
        raw = bytes(self._buf[self._start : end])
        try:
            out.append(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"invalid JSON array element ({exc}): {raw[:200]!r}") from None
        self.elements_seen += 1
        self._start = -1
        self._gap = end

    def _between(self, out: list[Any], at: int, *, closing: bool) -> None:
        """A ``,`` or the final ``]`` at ``at``: deliver a scalar element that
        ended there, and check that the separator is in its place."""
        if at - self._gap > self._max:
            raise self._too_large()
        text = bytes(self._buf[self._gap : at]).strip()
        if text:
            if not self._expect:
                raise ProtocolError(f"missing ',' between JSON array elements: {text[:200]!r}")
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError(f"invalid JSON array element ({exc}): {text[:200]!r}") from None
            out.append(value)
            self.elements_seen += 1
        elif self._expect and (not closing or self.elements_seen):
            raise ProtocolError(f"empty JSON array element: {_near(self._buf, at)}")
        self._expect = not closing
        self._gap = at + 1

    def _trim(self) -> None:
        keep = self._start if self._start >= 0 else self._gap
        if keep:
            del self._buf[:keep]
            self._pos -= keep
            self._gap -= keep
            if self._start >= 0:
                self._start -= keep


def _near(buf: bytearray, at: int) -> str:
    return repr(bytes(buf[max(0, at - 40) : at + 40]))
