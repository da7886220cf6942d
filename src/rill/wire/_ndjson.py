"""Newline-delimited JSON (NDJSON, JSON Lines), decoded from bytes.

Ollama streams one JSON value per line; so do many self-hosted servers. Like
``SSEDecoder``, ``NDJSONDecoder`` is a plain object: push bytes with
``decode(chunk)``, get the parsed values of the lines that chunk completed,
call ``flush()`` at the end of the body.

Decisions:

- Lines end at LF only. JSON text never contains a raw LF (control
  characters inside strings must be escaped), so splitting the bytes at
  ``\\n`` cannot cut a value in two. A CR before the LF is JSON whitespace and
  is tolerated, as is any whitespace around a value; blank lines are skipped.
- Only the unfinished last line is kept between chunks, as a list of pieces
  joined once when its LF arrives, so a long line delivered in many small
  chunks costs linear time.
- A line that is not one JSON value, or not UTF-8, is a ``ProtocolError``:
  silently skipping it would lose output. ``decode`` raises it for the whole
  chunk; a caller that must first act on the values before the bad line takes
  raw ``lines`` and parses each with ``NDJSONDecoder.parse``.
- ``flush()`` parses a last line that had no LF (a whole JSON body sent as the
  stream, or a server that omits the final newline). ``pending`` tells a
  caller whether such bytes are waiting, so a connection cut in the middle of
  a line can be reported as incomplete rather than as malformed.
- A line may be at most ``max_line_size`` bytes (its LF not counted), 16 MiB
  by default (``wire._limits``): a server that never sends the LF would
  otherwise make the decoder buffer without end. A longer line is a
  ``ProtocolError``, raised once the bytes held for it pass the limit (a
  running count, one comparison per chunk), or once a chunk holding it whole
  is split, so the outcome does not depend on how the bytes were split. The
  decoder holds at most the limit plus the unfinished end of one chunk.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._errors import ProtocolError
from ._limits import DEFAULT_MAX_EVENT_BYTES, too_large

__all__ = ["NDJSONDecoder"]

_BOM = b"\xef\xbb\xbf"


class NDJSONDecoder:
    """Incremental NDJSON decoder: ``decode(bytes) -> list`` of parsed values."""

    __slots__ = ("_max", "_pieces", "_size", "_started")

    def __init__(self, *, max_line_size: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_line_size
        self._pieces: list[bytes] = []
        self._size = 0  # bytes in _pieces
        self._started = False

    @property
    def pending(self) -> bool:
        """True when bytes of an unfinished line are waiting for their LF."""
        return bool(self._pieces)

    def decode(self, data: bytes) -> list[Any]:
        """The values of the lines ``data`` completed. Raises ``ProtocolError``
        on a malformed line (use ``lines`` to keep the values before it)."""
        return [_parse(line) for line in self.lines(data)]

    def flush(self) -> list[Any]:
        """The value on a last line that had no LF, if any. Raises
        ``ProtocolError`` when those bytes are not a JSON value."""
        line = self.flush_line()
        if line is None:
            return []
        return [_parse(line)]

    def lines(self, data: bytes) -> list[bytes]:
        """The non-blank lines ``data`` completed, not yet parsed: for callers
        that must act on each value before a later line turns out malformed.
        Parse each with ``NDJSONDecoder.parse``."""
        if b"\n" not in data:
            if data:
                self._size += len(data)
                if self._size > self._max:
                    raise self._too_large()
                self._pieces.append(data)
            return []
        lines = data.split(b"\n")
        if self._size + len(data) > self._max:  # rare: look at each line
            self._check(lines)
        pieces = self._pieces
        if pieces:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
            pieces.clear()
        last = lines.pop()
        # Not checked yet, so that the lines before it are delivered: the
        # next call does.
        self._size = len(last)
        if last:
            pieces.append(last)
        if not self._started:
            self._started = True
            lines[0] = _strip_bom(lines[0])
        return [line for line in lines if line and not line.isspace()]

    def flush_line(self) -> bytes | None:
        """The unfinished last line (without its LF), or None if blank."""
        if self._size > self._max:
            raise self._too_large()
        line = b"".join(self._pieces)
        self._pieces.clear()
        self._size = 0
        if not self._started:
            self._started = True
            line = _strip_bom(line)
        if not line or line.isspace():
            return None
        return line

    def _check(self, lines: list[bytes]) -> None:
        """Raise if a line that ``lines`` completes is longer than the limit."""
        longest = max([self._size + len(lines[0]), *map(len, lines[1:-1])])
        if longest > self._max:
            raise self._too_large()

    def _too_large(self) -> ProtocolError:
        self._pieces.clear()  # let the memory go: the stream is unusable now
        self._size = 0
        return too_large("a line of the NDJSON stream", self._max)

    @staticmethod
    def parse(line: bytes) -> Any:
        """One line's JSON value; ``ProtocolError`` when it is not one."""
        return _parse(line)


def _strip_bom(line: bytes) -> bytes:
    return line[3:] if line.startswith(_BOM) else line


def _parse(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise ProtocolError(f"NDJSON stream is not valid UTF-8: {bad}") from None
        raise ProtocolError(f"invalid JSON line in NDJSON stream ({exc}): {line[:200]!r}") from None
