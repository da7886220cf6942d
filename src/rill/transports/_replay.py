"""A transport that answers from a cache's recording instead of the network.

It stands where an HTTP transport stands, so a cache hit goes through the
same driver and session as a live call: the same decoder turns the recorded
bytes into the same chunks, callbacks and timing work unchanged. With
``paced`` it sleeps to each piece's recorded offset (bounded by the
session's deadline like any read).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._cache import Recording
    from .._session import StreamSession

__all__ = ["AsyncReplayTransport", "ReplayTransport"]

_HEADERS: Mapping[str, str] = {"x-rill-cache": "hit"}


class _ReplayResponse:
    __slots__ = ("_paced", "_recording", "headers", "status")

    def __init__(self, recording: Recording, paced: bool) -> None:
        self._recording = recording
        self._paced = paced
        self.status = 200
        self.headers = _HEADERS

    def body(self) -> Iterator[bytes]:
        if not self._paced:
            return iter(self._recording.pieces)
        return self._paced_pieces()

    def _paced_pieces(self) -> Iterator[bytes]:
        start = time.perf_counter()
        for offset, piece in zip(self._recording.offsets, self._recording.pieces, strict=True):
            wait = start + offset - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            yield piece

    async def _apaced_pieces(self) -> AsyncIterator[bytes]:
        import anyio

        start = time.perf_counter()
        for offset, piece in zip(self._recording.offsets, self._recording.pieces, strict=True):
            wait = start + offset - time.perf_counter()
            if wait > 0:
                await anyio.sleep(wait)
            yield piece

    def read_error_body(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


class _AsyncReplayResponse(_ReplayResponse):
    __slots__ = ()

    def body(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        if self._paced:
            return self._apaced_pieces()
        return _aiter(self._recording.pieces)

    async def aread_error_body(self) -> bytes:
        return b""

    async def aclose(self) -> None:
        pass


async def _aiter(pieces: tuple[bytes, ...]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


class ReplayTransport:
    """Sync: serves ``recording`` as a 200 response."""

    __slots__ = ("_paced", "_recording")

    def __init__(self, recording: Recording, *, paced: bool = False) -> None:
        self._recording = recording
        self._paced = paced

    def send(self, session: StreamSession) -> _ReplayResponse:
        return _ReplayResponse(self._recording, self._paced)


class AsyncReplayTransport:
    """Async: serves ``recording`` as a 200 response."""

    __slots__ = ("_paced", "_recording")

    def __init__(self, recording: Recording, *, paced: bool = False) -> None:
        self._recording = recording
        self._paced = paced

    async def send(self, session: StreamSession) -> _AsyncReplayResponse:
        return _AsyncReplayResponse(self._recording, self._paced)

    async def aclose(self) -> None:
        pass
