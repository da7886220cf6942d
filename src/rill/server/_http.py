"""Small HTTP pieces every endpoint shares: errors in OpenAI's shape, a
bounded JSON body reader and the caller's tenant."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ._config import ServerConfig

__all__ = ["HTTPError", "authenticate", "error_response", "json_response", "read_json"]


class HTTPError(Exception):
    """An error answer: ``status`` with ``{"error": {"message", "type", "code"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(exc: HTTPError) -> Response:
    body = {"error": {"message": exc.message, "type": exc.code, "code": exc.code}}
    headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
    return json_response(body, exc.status, headers)


def authenticate(request: Request, config: ServerConfig) -> str:
    tenant = config.tenant(request.headers.get("authorization"))
    if tenant is None:
        raise HTTPError(401, "invalid_api_key", "a valid server API key is required (Bearer)")
    return tenant


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, read no further than ``limit`` bytes."""
    length = request.headers.get("content-length")
    too_large = HTTPError(413, "body_too_large", f"the request body exceeds {limit} bytes")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_large
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPError(400, "invalid_json", "the request body is not JSON") from None
    if not isinstance(value, dict):
        raise HTTPError(400, "invalid_request", "the request body must be a JSON object")
    return value
