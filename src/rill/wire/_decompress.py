"""Content-encoding undone in bounded pieces.

A body of a few kilobytes of gzip can inflate to gigabytes. httpx's decoders
inflate each network read whole, so one 64 KiB read of such a body becomes up
to ~64 MiB at once. ``Decompressor.decode`` instead yields the inflated bytes
in pieces of at most ``PIECE`` bytes (zlib's ``max_length``), which the caller
consumes one at a time: memory stays bounded by the piece size plus whatever
the stream decoder keeps (itself bounded by the maximum event size), however
large the inflated body would be.

Only the encodings rill asks for (``Accept-Encoding: gzip, deflate``) are
undone; anything else is a ``ProtocolError`` rather than bytes the stream
decoders would misread.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from .._errors import ProtocolError

__all__ = ["ACCEPT_ENCODING", "PIECE", "Decompressor"]

ACCEPT_ENCODING = "gzip, deflate"
PIECE = 64 * 1024

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class Decompressor:
    """Incremental decoder for one ``Content-Encoding`` value."""

    __slots__ = ("_inflate", "_sniff", "_wbits")

    def __init__(self, encoding: str) -> None:
        name = encoding.strip().lower()
        if name in ("gzip", "x-gzip"):
            self._wbits = _GZIP
        elif name == "deflate":
            # RFC 9110 says zlib-wrapped; some servers send raw deflate.
            self._wbits = _ZLIB
        else:
            raise ProtocolError(f"unsupported content-encoding {encoding!r}")
        self._sniff = name == "deflate"
        self._inflate = zlib.decompressobj(self._wbits)

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The inflated bytes of ``data``, in pieces of at most ``PIECE``."""
        if self._sniff and data:
            self._sniff = False
            if data[0] & 0x0F != 8:  # no zlib header: raw deflate
                self._inflate = zlib.decompressobj(_RAW_DEFLATE)
        inflate = self._inflate
        while data:
            try:
                piece = inflate.decompress(data, PIECE)
            except zlib.error as exc:
                raise ProtocolError(f"the compressed body is corrupt: {exc}") from None
            if piece:
                yield piece
            data = inflate.unconsumed_tail
            if inflate.eof and inflate.unused_data:
                # Another gzip member follows (concatenated gzip is valid).
                data = inflate.unused_data
                self._inflate = inflate = zlib.decompressobj(self._wbits)

    def flush(self) -> bytes:
        """End of body: what the inflater still held (at most a few bytes)."""
        try:
            return self._inflate.flush()
        except zlib.error as exc:
            raise ProtocolError(f"the compressed body is corrupt: {exc}") from None
