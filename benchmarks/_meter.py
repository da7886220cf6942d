"""What the HTTP layer has received, for telling when a client showed its first
partial object: an httpx transport that counts response body bytes as they are
read from the connection, and notes when the last of them came.

Any client built on httpx takes it (``httpx.Client(transport=...)``, or such a
client handed to the openai SDK), so every client is watched the same way,
below its own buffering. Used only for the paced first-partial measurement,
never in a timed run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from time import perf_counter

import httpx

__all__ = ["AsyncMeteredTransport", "Meter", "MeteredTransport"]


@dataclass
class Meter:
    received: int = 0
    """Response body bytes read so far (after chunked framing, before any decoding)."""
    last: float = 0.0
    """``perf_counter()`` when the latest of them was read."""

    def reset(self) -> None:
        self.received = 0
        self.last = 0.0


class MeteredTransport(httpx.BaseTransport):
    def __init__(self, meter: Meter) -> None:
        self._meter = meter
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _Counted(response.stream, self._meter)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncMeteredTransport(httpx.AsyncBaseTransport):
    def __init__(self, meter: Meter) -> None:
        self._meter = meter
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncCounted(response.stream, self._meter)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Counted(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, meter: Meter) -> None:
        self._inner = inner
        self._meter = meter

    def __iter__(self) -> Iterator[bytes]:
        meter = self._meter
        for data in self._inner:
            meter.received += len(data)
            meter.last = perf_counter()
            yield data

    def close(self) -> None:
        self._inner.close()


class _AsyncCounted(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, meter: Meter) -> None:
        self._inner = inner
        self._meter = meter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        meter = self._meter
        async for data in self._inner:
            meter.received += len(data)
            meter.last = perf_counter()
            yield data

    async def aclose(self) -> None:
        await self._inner.aclose()
