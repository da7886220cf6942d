"""The ASGI application: routes, errors, the web page and the lifespan.

``RillServer`` is itself an ASGI app, so it runs under uvicorn
(``rill serve``) or mounts inside another Starlette/FastAPI app::

    server = RillServer(load_config(), store="redis://127.0.0.1:6379/0")
    app = Starlette(routes=[Mount("/llm", app=server)], lifespan=server.lifespan)
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._chat import chat_completions
from ._config import ServerConfig
from ._http import HTTPError, authenticate, error_response, json_response
from ._log import StreamStore
from ._state import ServerState
from ._stores import open_store
from ._streams import RAW_SEND, cancel_stream, create_stream, read_stream

__all__ = ["RillServer"]

Handler = Callable[[ServerState, Request], Awaitable[Response]]

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
_PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class RillServer:
    """rill's server as an ASGI app over ``store`` (a store or a store URL:
    ``memory``, ``sqlite:PATH``, ``redis://...``)."""

    def __init__(
        self, config: ServerConfig | None = None, store: StreamStore | str = "memory"
    ) -> None:
        self.config = config if config is not None else ServerConfig()
        self.store = open_store(store) if isinstance(store, str) else store
        self.state = ServerState(self.config, self.store)
        routes = [
            Route("/v1/streams", self._wrap(create_stream), methods=["POST"]),
            Route("/v1/streams/{stream_id}", self._wrap(read_stream), methods=["GET"]),
            Route("/v1/streams/{stream_id}/cancel", self._wrap(cancel_stream), methods=["POST"]),
            Route("/v1/chat/completions", self._wrap(chat_completions), methods=["POST"]),
            Route("/v1/schemas", self._wrap(_schemas), methods=["GET"]),
            Route("/healthz", _health, methods=["GET"]),
        ]
        routes += [
            Route(path, _static(name, kind), methods=["GET"])
            for path, (name, kind) in _STATIC.items()
        ]
        middleware = []
        if self.config.cors_origins:
            middleware.append(
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(self.config.cors_origins),
                    allow_methods=["GET", "POST"],
                    allow_headers=["authorization", "content-type", "last-event-id"],
                )
            )
        self.app = Starlette(routes=routes, middleware=middleware, lifespan=self._lifespan)

    def _wrap(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        state = self.state

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(state, request)
            except HTTPError as exc:
                return error_response(exc)

        return endpoint

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Loads the HTTP client before the first request and, on shutdown,
        stops running generations and closes the store; pass it as the
        lifespan of an app that mounts this server."""
        # Imported now rather than inside the first request, where it would
        # hold up the event loop (and every lease renewal on it) for a while.
        importlib.import_module("rill.transports._aiohttp")
        try:
            yield
        finally:
            await self.state.aclose()

    def _lifespan(self, app: Starlette) -> contextlib.AbstractAsyncContextManager[None]:
        return self.lifespan(app)

    async def aclose(self) -> None:
        """Stop running generations and close the store."""
        await self.state.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The send this app was given, for the event streams' body writes: the
        # layers Starlette wraps around it inside this app only pass body
        # messages on, and on a stream read by a thousand clients each layer
        # is a thousand calls per event.
        await self.app({**scope, RAW_SEND: send}, receive, send)


async def _schemas(state: ServerState, request: Request) -> Response:
    authenticate(request, state.config)
    return json_response({"schemas": state.config.schemas, "auth": state.config.auth})


async def _health(request: Request) -> Response:
    return json_response({"ok": True})


def _static(name: str, kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        body = resources.files("rill.server").joinpath("static", name).read_bytes()
        return Response(body, media_type=kind, headers=_PAGE_HEADERS)

    return page
