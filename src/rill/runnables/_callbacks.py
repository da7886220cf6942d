"""Callback handlers: the same events as ``astream_events``, pushed to code
that logs or traces.

A handler's methods may be plain functions or coroutine functions. A plain
one runs inline; a coroutine one runs in a background task of its own, fed
in order through a queue, so a slow handler never holds up the stream (the
call waits for it only once the stream has ended). A handler that raises
never changes the stream: the error is logged on the ``rill`` logger,
unless the handler sets ``raise_error = True``.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._errors import InvalidRequestError
from ._tasks import spawn

__all__ = ["CallbackHandler", "Handlers"]

logger = logging.getLogger("rill")

_METHODS = ("on_start", "on_chunk", "on_end", "on_error", "on_custom")


class CallbackHandler:
    """Base class for callback handlers: override the methods you need, as
    plain or ``async`` methods. Each receives the event dict, as
    ``astream_events(version="v2")`` would yield it (``on_error`` receives
    ``data={"error": exc, ...}``, an event the event stream does not carry).

    ``raise_error = True`` makes an exception in the handler propagate (from
    the call that triggered it, or, for an async handler, when the stream
    ends) instead of being logged.
    """

    raise_error: bool = False

    def on_start(self, event: dict[str, Any]) -> Any:
        """A run started."""

    def on_chunk(self, event: dict[str, Any]) -> Any:
        """A run produced a chunk."""

    def on_end(self, event: dict[str, Any]) -> Any:
        """A run ended with its output."""

    def on_error(self, event: dict[str, Any]) -> Any:
        """A run failed or was cancelled."""

    def on_custom(self, event: dict[str, Any]) -> Any:
        """A step called ``rill.dispatch_event``."""


class _Worker:
    """Runs one handler's coroutine methods in order, in a background task."""

    __slots__ = ("_done", "_raise", "_wake", "closed", "error", "queue")

    def __init__(self, raise_error: bool) -> None:
        self.queue: deque[tuple[Callable[[Any], Awaitable[Any]], dict[str, Any]]] = deque()
        self.closed = False
        self.error: BaseException | None = None
        self._raise = raise_error
        self._wake: Any = None
        self._done: Any = None

    def push(self, method: Callable[[Any], Awaitable[Any]], event: dict[str, Any]) -> None:
        if self._done is None:
            self._start()
        self.queue.append((method, event))
        if self._wake is not None:
            self._wake.set()

    def _start(self) -> None:
        import anyio

        self._done = anyio.Event()
        spawn(self._run)

    async def _run(self) -> None:
        import anyio

        try:
            while True:
                while self.queue:
                    method, event = self.queue.popleft()
                    try:
                        await method(event)
                    except Exception as exc:
                        if self._raise:
                            self.error = self.error or exc
                        else:
                            logger.exception("callback handler %s failed", method)
                if self.closed:
                    return
                self._wake = anyio.Event()
                await self._wake.wait()
        finally:
            self._done.set()

    async def aclose(self) -> None:
        self.closed = True
        if self._done is None:
            return
        if self._wake is not None:
            self._wake.set()
        await self._done.wait()


class Handlers:
    """The handlers of one call (or one subtree), dispatching each event."""

    __slots__ = ("_entries", "_workers", "is_async")

    def __init__(self, handlers: Sequence[CallbackHandler], *, is_async: bool) -> None:
        self.is_async = is_async
        self._workers: list[_Worker] = []
        # Per method name: (function, is coroutine, raise_error, worker).
        self._entries: dict[str, list[tuple[Callable[[Any], Any], _Worker | None, bool]]] = {
            name: [] for name in _METHODS
        }
        for handler in handlers:
            if not isinstance(handler, CallbackHandler):
                raise InvalidRequestError(
                    f"callbacks must be CallbackHandler instances, not {type(handler).__name__}"
                )
            worker: _Worker | None = None
            for name in _METHODS:
                method = getattr(handler, name)
                if getattr(type(handler), name) is getattr(CallbackHandler, name):
                    continue  # not overridden
                if inspect.iscoroutinefunction(method):
                    if not is_async:
                        raise InvalidRequestError(
                            f"{type(handler).__name__}.{name} is a coroutine function, which "
                            "the sync API cannot await; use the async method (astream, "
                            "ainvoke, ...) or a plain method"
                        )
                    if worker is None:
                        worker = _Worker(handler.raise_error)
                        self._workers.append(worker)
                    self._entries[name].append((method, worker, handler.raise_error))
                else:
                    self._entries[name].append((method, None, handler.raise_error))

    def _dispatch(self, name: str, event: dict[str, Any]) -> None:
        for method, worker, raise_error in self._entries[name]:
            if worker is not None:
                worker.push(method, event)
                continue
            try:
                method(event)
            except Exception:
                if raise_error:
                    raise
                logger.exception("callback handler %s failed", method)

    def on_start(self, event: dict[str, Any]) -> None:
        self._dispatch("on_start", event)

    def on_chunk(self, event: dict[str, Any]) -> None:
        self._dispatch("on_chunk", event)

    def on_end(self, event: dict[str, Any]) -> None:
        self._dispatch("on_end", event)

    def on_error(self, event: dict[str, Any]) -> None:
        self._dispatch("on_error", event)

    def on_custom(self, event: dict[str, Any]) -> None:
        self._dispatch("on_custom", event)

    async def aclose(self) -> None:
        """Wait for async handlers to take every event; raise the first error
        of a handler that asked for it."""
        for worker in self._workers:
            await worker.aclose()
        for worker in self._workers:
            if worker.error is not None:
                raise worker.error
