"""Small iterator plumbing shared by the steps and the drivers: reading a
stream while keeping its chunks, putting a chunk back in front, closing
what may be a generator."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Generator, Iterable, Iterator
from typing import Any

__all__ = ["Prepend", "aclose", "aone", "atap", "close", "nothing", "tap"]


def nothing() -> None:
    pass


class Prepend:
    """The chunks in ``head``, then those of ``rest``: an async iterator
    that adds no frame per chunk of ``rest``."""

    __slots__ = ("head", "rest")

    def __init__(self, head: list[Any], rest: AsyncIterator[Any]) -> None:
        self.head = head
        self.rest = rest

    def __aiter__(self) -> Prepend:
        return self

    def __anext__(self) -> Awaitable[Any]:
        if self.head:
            return _value(self.head.pop())
        return self.rest.__anext__()

    async def aclose(self) -> None:
        self.head = []


async def _value(value: Any) -> Any:
    return value


def tap(seen: list[Any], rest: Iterator[Any]) -> Generator[Any, None, None]:
    yield from seen[:1]
    for item in rest:
        seen.append(item)
        yield item


async def atap(seen: list[Any], rest: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    if seen:
        yield seen[0]
    async for item in rest:
        seen.append(item)
        yield item


async def aone(value: Any) -> AsyncIterator[Any]:
    yield value


def close(it: Iterable[Any]) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


async def aclose(it: AsyncIterator[Any]) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()
