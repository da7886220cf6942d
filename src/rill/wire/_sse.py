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
"""

from __future__ import annotations

from .._errors import ProtocolError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"


class ServerSentEvent:
    """One dispatched event. ``event`` defaults to ``"message"``; ``id`` is the
    last event id seen so far (the spec's "last event ID buffer")."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(
        self, data: str, event: str = "message", id: str = "", retry: int | None = None
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.data, self.event, self.id, self.retry) == (
            other.data,
            other.event,
            other.id,
            other.retry,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"event stream is not valid UTF-8: {exc}") from None


class SSEDecoder:
    """Incremental event-stream decoder: ``decode(bytes) -> list[ServerSentEvent]``."""

    __slots__ = (
        "_data",
        "_event",
        "_has_fields",
        "_last_id",
        "_pending",
        "_retry",
        "_skip_lf",
        "_started",
        "events_seen",
    )

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # pieces of the current unfinished line
        self._skip_lf = False  # the previous chunk ended in CR
        self._started = False  # BOM check done
        self._data: list[bytes] = []
        self._event = b""
        self._has_fields = False
        self._last_id = ""
        self._retry: int | None = None
        self.events_seen = 0

    @property
    def truncated(self) -> bool:
        """True when the input so far ends in the middle of a line."""
        return bool(self._pending)

    @property
    def retry(self) -> int | None:
        """The last reconnection time the server asked for, in milliseconds."""
        return self._retry

    @property
    def last_event_id(self) -> str:
        return self._last_id

    def decode(self, chunk: bytes) -> list[ServerSentEvent]:
        if not chunk:
            return []
        if not self._started:
            head = b"".join(self._pending) + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._pending = [head] if head else []
                return []
            self._pending = []
            self._started = True
            chunk = head[3:] if head.startswith(_BOM) else head
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if not lines:
            if tail:
                self._pending.append(tail)
            return []
        if self._pending:
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
            self._pending = []
        if tail:
            self._pending.append(tail)
        events: list[ServerSentEvent] = []
        for line in lines:
            if line[:5] == b"data:":
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
                self._has_fields = True
            elif not line:
                if self._data:
                    events.append(self._dispatch())
                elif self._has_fields:
                    self._event = b""
                    self._has_fields = False
            elif line[0] != 58:  # b":" starts a comment
                self._field(line)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of input: deliver an event whose lines were complete but which
        lacked its final blank line. A cut-off last line is dropped (and
        ``truncated`` stays True)."""
        if self._data:
            return [self._dispatch()]
        return []

    def _dispatch(self) -> ServerSentEvent:
        data = self._data
        raw = data[0] if len(data) == 1 else b"\n".join(data)
        event = ServerSentEvent(
            _utf8(raw),
            _utf8(self._event) if self._event else "message",
            self._last_id,
            self._retry,
        )
        self._data = []
        self._event = b""
        self._has_fields = False
        self.events_seen += 1
        return event

    def _field(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value
            self._has_fields = True
        elif name == b"data":  # "data" with no colon: an empty data line
            self._data.append(value)
            self._has_fields = True
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = _utf8(value)
        elif name == b"retry":
            if value.isdigit():
                self._retry = int(value)
        # Any other field name is ignored, as the spec says.
