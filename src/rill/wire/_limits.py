"""The bound on what a stream decoder may hold at once.

A decoder keeps only the event (SSE), line (NDJSON) or element (JSON array)
it is in the middle of, so bounding that one unfinished piece bounds its
memory, whatever the server sends. 16 MiB is far above any real event (a
whole non-streamed response, which is held under the same bound, is rarely
above a few hundred KiB) and far below what would hurt a process.

The decoders keep a running count of the bytes they hold, so the check is one
comparison per chunk; exceeding the bound is a ``ProtocolError`` (the server
sent something no client should have to buffer), whose message names the
bound and the request option that raises it.
"""

from __future__ import annotations

from .._errors import ProtocolError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "too_large"]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


def too_large(what: str, limit: int) -> ProtocolError:
    """The error for ``what`` (``"an SSE event"``, ...) growing past ``limit`` bytes."""
    return ProtocolError(
        f"{what} is larger than the limit of {limit} bytes and was not buffered further;"
        " if the server really sends pieces this large, raise the limit with the"
        " max_event_bytes= option"
    )
