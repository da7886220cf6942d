"""Server-sent events as the server writes them, and the ``Last-Event-ID``
it reads back (WHATWG HTML, "Server-sent events").

An event id is ``epoch:seq``: the epoch is random per stream, so an id from
another stream (or a stream that was lost and re-created) is recognised
rather than taken as a position.
"""

from __future__ import annotations

import re

from ._log import Event

__all__ = ["KEEPALIVE", "encode_event", "event_id", "parse_last_event_id", "preamble"]

KEEPALIVE = b": keep-alive\n\n"

_ID = re.compile(r"([0-9a-f]{8}):(0|[1-9][0-9]{0,17})")


def event_id(epoch: str, seq: int) -> str:
    return f"{epoch}:{seq}"


def encode_event(epoch: str, event: Event) -> bytes:
    # ``data`` is compact JSON, which never holds a raw newline.
    return f"id: {epoch}:{event.seq}\nevent: {event.kind}\ndata: {event.data}\n\n".encode()


def preamble(epoch: str, after: int, retry_ms: int) -> bytes:
    """The first bytes of every response: the reconnection delay, and an
    event with only an id, so a client that drops before the first real
    event still reconnects with a position (the spec sets the last event
    id even for an event it does not dispatch)."""
    return f"retry: {retry_ms}\nid: {epoch}:{after}\n\n".encode()


def parse_last_event_id(value: str) -> tuple[str, int] | None:
    """``(epoch, seq)``, or None when ``value`` is not an id this server wrote."""
    match = _ID.fullmatch(value.strip())
    if match is None:
        return None
    return match.group(1), int(match.group(2))
