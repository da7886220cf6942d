"""Transports: the only code that talks to an HTTP library (see ``_seam``).

``sync_transport`` and ``async_transport`` choose one for a call from the
``http_client=`` it was given: none (rill's own pooled client: httpx for
sync; aiohttp on asyncio, one pool per event loop; httpx on other event
loops), an ``httpx.Client`` / ``httpx.AsyncClient``, or an
``aiohttp.ClientSession``. The libraries are imported here on first use, so
``import rill`` imports none of them.
"""

from __future__ import annotations

import sys
from typing import Any

from .._errors import InvalidRequestError
from ._seam import MAX_ERROR_BODY, AsyncResponse, AsyncTransport, Response, Transport

__all__ = [
    "MAX_ERROR_BODY",
    "AsyncResponse",
    "AsyncTransport",
    "Response",
    "Transport",
    "async_transport",
    "check_async_client",
    "check_sync_client",
    "sync_transport",
]


def check_sync_client(client: object) -> None:
    """At the call: ``http_client=`` must be an ``httpx.Client``."""
    if client is None:
        return
    httpx = sys.modules.get("httpx")
    if httpx is None or not isinstance(client, httpx.Client):
        raise InvalidRequestError(
            f"http_client must be an httpx.Client for the sync API, not {type(client).__name__}"
        )


def check_async_client(client: object) -> None:
    """At the call: ``http_client=`` must be an ``httpx.AsyncClient`` or an
    ``aiohttp.ClientSession``."""
    if client is None:
        return
    httpx = sys.modules.get("httpx")
    aiohttp = sys.modules.get("aiohttp")
    if httpx is not None and isinstance(client, httpx.AsyncClient):
        return
    if aiohttp is not None and isinstance(client, aiohttp.ClientSession):
        return
    raise InvalidRequestError(
        "http_client must be an httpx.AsyncClient or an aiohttp.ClientSession for the "
        f"async API, not {type(client).__name__}"
    )


def sync_transport(client: Any) -> Transport:
    from ._httpx import HttpxTransport, default_client

    if client is None:
        return HttpxTransport(default_client(), direct=True)
    return HttpxTransport(client)


async def async_transport(client: Any) -> tuple[AsyncTransport, bool]:
    """The transport for an async call, and whether the call owns it (and
    must close it when done)."""
    from ._replay import AsyncReplayTransport

    if isinstance(client, AsyncReplayTransport):  # a cache hit: no network
        return client, False
    if client is None:
        if _on_asyncio():
            from ._aiohttp import pooled_transport

            return await pooled_transport(), False
        from ._httpx import AsyncHttpxTransport, new_async_client

        return AsyncHttpxTransport(new_async_client()), True
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(client, httpx.AsyncClient):
        from ._httpx import AsyncHttpxTransport

        return AsyncHttpxTransport(client), False
    from ._aiohttp import AiohttpTransport

    return AiohttpTransport(client), False


def _on_asyncio() -> bool:
    try:
        import sniffio

        return sniffio.current_async_library() == "asyncio"
    except Exception:  # no sniffio, or an unknown library: assume asyncio
        return True
