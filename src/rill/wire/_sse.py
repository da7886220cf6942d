"""Server-sent events, decoded from bytes as the WHATWG HTML standard says
(§9.2.6 "Interpreting an event stream").

``SSEDecoder`` is a plain object: push bytes with ``decode(chunk)``, get the
completed events back, call ``flush()`` at the end of the body. It never does
I/O and keeps no more than the current unfinished line and event.

Decisions where the spec leaves room or real servers stray from it:

- Lines end at CR LF, LF or CR (a CR at the end of one chunk and an LF at the
  start of the next are one line end). Nothing else ends a line: U+2028,
  U+0085 and friends are data, because we split bytes, not decoded text.
- A leading UTF-8 BOM is dropped, even when it is split across chunks.
- Field values are UTF-8; invalid UTF-8 is a ``ProtocolError`` rather than
  U+FFFD, because a replacement character in model output is silent loss.
- At the end of the body the spec discards an event that was not followed by
  a blank line. Servers that omit the last blank line exist, so ``flush()``
  still delivers an event whose lines were all complete; a line cut off in
  the middle is never delivered (see ``truncated``).

Speed: line ends are normalized to LF per chunk, then the input is split into
whole events at blank lines with ``bytes.split`` (C speed); an event that is a
single ``data:`` line, which is every event of most LLM streams, takes a fast
path, and only other events are parsed line by line. Only the unfinished event
is kept between chunks. ``decode_raw`` returns ``(event type, data bytes)``
pairs for codecs that parse JSON from bytes; ``decode`` returns
``ServerSentEvent`` objects.

Bounded memory: an event (its lines with their line ends, without the blank
line that ends it) may be at most ``max_event_size`` bytes, 16 MiB by default
(``wire._limits``). The spec sets no limit, but a server that never sends the
blank line would otherwise make the decoder buffer without end. A larger
event is a ``ProtocolError``, raised as soon as the bytes held for it pass the
limit (a running count, one comparison per chunk), or, for an event that
arrives whole in one chunk, when that chunk is split into events; the outcome
does not depend on how the bytes were split. The decoder holds at most the
limit plus the part of one chunk after its last complete event. After any
``ProtocolError`` the decoder must not be fed again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeAlias

from .._errors import ProtocolError
from ._limits import DEFAULT_MAX_EVENT_BYTES, too_large

__all__ = ["RawEvent", "SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
# Whole events that are each one "data: " line: most LLM streams, all the time.
_ONLY_DATA_EVENTS = re.compile(rb"(?:data: [^\n]*\n\n)*")
_DATA_EVENT = re.compile(rb"data: ([^\n]*)\n\n")

RawEvent: TypeAlias = bytes | tuple[bytes, bytes, bytes]


class ServerSentEvent:
    """One dispatched event. ``event`` defaults to ``"message"``; ``id`` is the
    last event id seen so far (the spec's "last event ID buffer"). The
    reconnection time a ``retry:`` field sets belongs to the connection, not to
    an event: it is ``SSEDecoder.retry``."""

    __slots__ = ("data", "event", "id")

    def __init__(self, data: str, event: str = "message", id: str = "") -> None:
        self.data = data
        self.event = event
        self.id = id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.data, self.event, self.id) == (other.data, other.event, other.id)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"


def utf8(raw: bytes) -> str:
    """Decode a field value; invalid UTF-8 is a ``ProtocolError``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"event stream is not valid UTF-8: {exc}") from None


class SSEDecoder:
    """Incremental event-stream decoder: ``decode(bytes) -> list[ServerSentEvent]``."""

    __slots__ = (
        "_error",
        "_last_id",
        "_max",
        "_pending",
        "_retry",
        "_size",
        "_skip_lf",
        "_started",
        "events_seen",
    )

    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_size
        # A failure found after some events of a chunk: those events are
        # returned first, and the failure is raised by the next call.
        self._error: ProtocolError | None = None
        self._pending: list[bytes] = []  # pieces of the current unfinished event
        self._size = 0  # bytes in _pending (but a split BOM's)
        self._skip_lf = False  # the previous chunk ended in CR
        self._started = False  # BOM check done
        self._last_id = b""
        self._retry: int | None = None
        self.events_seen = 0

    @property
    def truncated(self) -> bool:
        """True when the input so far ends in the middle of a line."""
        return bool(self._pending) and not self._pending[-1].endswith(b"\n")

    @property
    def retry(self) -> int | None:
        """The last reconnection time the server asked for, in milliseconds."""
        return self._retry

    @property
    def last_event_id(self) -> str:
        return utf8(self._last_id)

    def decode(self, chunk: bytes) -> list[ServerSentEvent]:
        return self._events(self.decode_raw, chunk)

    def flush(self) -> list[ServerSentEvent]:
        """End of input: deliver an event whose lines were complete but which
        lacked its final blank line. A cut-off last line is dropped (and
        ``truncated`` stays True)."""
        return self._events(lambda _: self.flush_raw(), b"")

    def _events(
        self, source: Callable[[bytes], list[RawEvent]], chunk: bytes
    ) -> list[ServerSentEvent]:
        last_id = self._last_id  # a bare-bytes event keeps the id before it
        events = []
        try:
            for raw in source(chunk):
                if isinstance(raw, bytes):
                    events.append(ServerSentEvent(utf8(raw), "message", utf8(last_id)))
                else:
                    name, data, last_id = raw
                    events.append(
                        ServerSentEvent(utf8(data), utf8(name) or "message", utf8(last_id))
                    )
        except ProtocolError as exc:
            if not events:
                raise
            self._error = exc  # the events before the bad one are delivered first
        return events

    def decode_raw(self, chunk: bytes) -> list[RawEvent]:
        """Like ``decode``, without building objects: an event made only of
        ``data:`` lines comes as its data ``bytes`` (type ``message``, last
        event id unchanged); any other as ``(type, data, last event id)``
        bytes, the type ``b""`` for ``message``."""
        if self._error is not None:
            raise self._error
        if not chunk:
            return []
        if not self._started:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pending = self._pending
        if pending:
            if b"\n\n" not in chunk and not (chunk[:1] == b"\n" and pending[-1][-1:] == b"\n"):
                self._size += len(chunk)
                if self._size > self._max:
                    raise self._too_large()
                pending.append(chunk)
                return []
            pending.append(chunk)
            chunk = b"".join(pending)
            self._pending = pending = []
            self._size = 0
        end = chunk.rfind(b"\n\n") + 2
        if end == 1:  # no blank line yet
            if len(chunk) > self._max:
                raise self._too_large()
            pending.append(chunk)
            self._size = len(chunk)
            return []
        if end < len(chunk):
            # Not checked against the limit yet, so that the events before it
            # are delivered: the next decode() or flush() does.
            pending.append(chunk[end:])
            self._size = len(chunk) - end
            chunk = chunk[:end]
        if end > self._max:
            chunk = self._cut_at_too_large(chunk)  # an event that arrived whole
        out: list[RawEvent]
        if _ONLY_DATA_EVENTS.fullmatch(chunk):
            out = _DATA_EVENT.findall(chunk)  # the common case, entirely in C
        else:
            out = []
            id_may_change = False  # after another kind of event, ids are spelled out
            for block in chunk.split(b"\n\n"):
                if block[:6] == b"data: " and b"\n" not in block:
                    out.append((b"", block[6:], self._last_id) if id_may_change else block[6:])
                elif block:
                    self._block(block, out)
                    id_may_change = True
        self.events_seen += len(out)
        return out

    def flush_raw(self) -> list[RawEvent]:
        if self._error is not None:
            raise self._error
        if not self._pending:
            return []
        if self._size > self._max:
            raise self._too_large()
        block = b"".join(self._pending)
        complete, _, cut = block.rpartition(b"\n")
        self._pending = [cut] if cut else []
        self._size = len(cut)
        out: list[RawEvent] = []
        if complete:
            self._block(complete, out)
        self.events_seen += len(out)
        return out

    def _cut_at_too_large(self, chunk: bytes) -> bytes:
        """Whole events before the first one over the limit; that one becomes
        the error of the next call (the events before it are delivered)."""
        blocks = chunk.split(b"\n\n")
        for i, block in enumerate(blocks):
            if len(block) >= self._max:
                if not i:
                    raise self._too_large()
                self._error = self._too_large()
                return b"\n\n".join(blocks[:i]) + b"\n\n"
        return chunk

    def _too_large(self) -> ProtocolError:
        self._pending = []  # let the memory go: the stream is unusable now
        self._size = 0
        return too_large("an event in the event stream", self._max)

    def _strip_bom(self, chunk: bytes) -> bytes:
        head = b"".join(self._pending) + chunk
        if len(head) < 3 and _BOM.startswith(head):
            self._pending = [head]
            return b""
        self._pending = []
        self._started = True
        return head[3:] if head.startswith(_BOM) else head

    def _block(self, block: bytes, out: list[RawEvent]) -> None:
        """Parse the lines of one event (blank lines inside dispatch too)."""
        data: list[bytes] = []
        event = b""
        for line in block.split(b"\n"):
            if not line:
                if data:
                    out.append((event, b"\n".join(data), self._last_id))
                data = []
                event = b""
                continue
            if line[0] == 58:  # b":" starts a comment
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value
            elif name == b"id":
                if b"\0" not in value:
                    self._last_id = value
            elif name == b"retry":
                if value.isdigit():
                    self._retry = int(value)
            # Any other field name is ignored, as the spec says.
        if data:
            out.append((event, b"\n".join(data), self._last_id))
