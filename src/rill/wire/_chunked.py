"""HTTP/1.1's chunked transfer coding undone, sans-IO (RFC 9112 §7.1).

``ChunkedDecoder.decode(data)`` takes the body bytes as they arrive, in any
split, and returns the payload they carried; ``done`` turns True once the
last chunk and the trailer section were read. The chunk data is passed on as
it arrives, never held back for the rest of its chunk, so memory is bounded
by the framing lines (``MAX_LINE``, ``MAX_TRAILERS``), not by a chunk size.

A streaming server usually writes one event per chunk and each lands in its
own read, so a read that is exactly one whole chunk is decoded by one regular
expression match and one slice.

Framing that is not valid (a size that is not hexadecimal, data not followed
by CRLF, an over-long line) is a ``ProtocolError``. When payload came before
it in the same bytes, ``decode`` returns that payload and keeps the error as
``error`` (raised by the next ``decode``), so that nothing which arrived
intact is lost; the caller checks ``error`` once it passed the payload on.
The decoder cannot see the connection close: whoever reads the socket checks
``done`` at end of file.
"""

from __future__ import annotations

import re

from .._errors import ProtocolError

__all__ = ["MAX_LINE", "MAX_TRAILERS", "ChunkedDecoder"]

MAX_LINE = 4096
"""A chunk-size line (extensions included) or trailer field line longer than
this is refused rather than buffered."""
MAX_TRAILERS = 64 * 1024
"""The trailer section's bound, all field lines together."""

# chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 §7.1).
# Extensions carry nothing rill uses and are skipped; whitespace before them
# (BWS) is allowed, as h11 allows it. Sixteen hex digits fit any real size.
_HEADER = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r\n")
_HEX = frozenset(b"0123456789abcdefABCDEF")

_SIZE, _DATA, _CRLF, _TRAILER, _DONE = range(5)


class ChunkedDecoder:
    """Incremental decoder for one chunked message body."""

    __slots__ = ("_left", "_pending", "_state", "_trailers", "done", "error", "extra")

    def __init__(self) -> None:
        # Framing bytes not yet complete: part of a size line, of the CRLF
        # after a chunk's data, or of a trailer line.
        self._pending = b""
        self._left = 0  # bytes of the current chunk's data still to come
        self._state = _SIZE
        self._trailers = 0
        self.done = False
        self.error: ProtocolError | None = None
        """Bad framing found after the payload that ``decode`` returned."""
        self.extra = False
        """True when bytes followed the end of the body (the connection
        then cannot carry another response)."""

    def decode(self, data: bytes) -> bytes:
        """The payload carried by ``data`` (empty when it held only framing)."""
        if self.error is not None:
            raise self.error
        if self._state == _SIZE and not self._pending:
            match = _HEADER.match(data)
            if match is not None:
                start = match.end()
                end = start + int(match[1], 16)
                # Exactly one whole, non-last chunk: the common case.
                if end > start and len(data) == end + 2 and data.endswith(b"\r\n"):
                    return data[start:end]
        out: list[bytes] = []
        try:
            self._decode(data, out)
        except ProtocolError as exc:
            if not out:
                raise
            self.error = exc
        return b"".join(out)

    def _decode(self, data: bytes, out: list[bytes]) -> None:
        if self._pending:
            data = self._pending + data
            self._pending = b""
        pos, size = 0, len(data)
        while pos < size:
            state = self._state
            if state == _DATA:
                end = min(size, pos + self._left)
                out.append(data[pos:end])
                self._left -= end - pos
                pos = end
                if not self._left:
                    self._state = _CRLF
            elif state == _SIZE:
                match = _HEADER.match(data, pos)
                if match is None:
                    self._incomplete_size(data, pos)
                    self._pending = data[pos:]
                    break
                pos = match.end()
                self._left = int(match[1], 16)
                self._state = _DATA if self._left else _TRAILER
            elif state == _CRLF:
                if size - pos < 2:
                    if data[pos:] != b"\r":
                        raise ProtocolError(f"chunk data not followed by CRLF: {data[pos:]!r}")
                    self._pending = data[pos:]
                    break
                if data[pos : pos + 2] != b"\r\n":
                    raise ProtocolError(f"chunk data not followed by CRLF: {data[pos : pos + 2]!r}")
                pos += 2
                self._state = _SIZE
            elif state == _TRAILER:
                pos = self._trailer(data, pos)
                if pos < 0:
                    break
            else:  # _DONE
                self.extra = True
                break

    def _incomplete_size(self, data: bytes, pos: int) -> None:
        """No complete size line at ``pos``: fine when it is only cut short,
        a ``ProtocolError`` when it can never become one."""
        line = data[pos : pos + MAX_LINE + 1]
        if data[pos] not in _HEX or b"\n" in line or len(line) > MAX_LINE:
            raise ProtocolError(f"not a chunk size line: {line[:64]!r}")

    def _trailer(self, data: bytes, pos: int) -> int:
        """One trailer line (RFC 9112 §7.1.2): where the next one starts, or
        -1 when the line is not complete yet (kept for the next read). The
        fields are read past: rill uses none."""
        end = data.find(b"\r\n", pos)
        if end < 0:
            if len(data) - pos > MAX_LINE:
                raise ProtocolError("a trailer field line is too long")
            self._pending = data[pos:]
            return -1
        if end == pos:  # the empty line: the body ends here
            self._state = _DONE
            self.done = True
            self.extra = end + 2 < len(data)
            return len(data)
        self._trailers += end + 2 - pos
        if end - pos > MAX_LINE or self._trailers > MAX_TRAILERS:
            raise ProtocolError("the trailer section is too large")
        if b":" not in data[pos:end]:
            raise ProtocolError(f"not a trailer field line: {data[pos:end][:64]!r}")
        return end + 2
