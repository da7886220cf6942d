"""rill's one exception hierarchy.

Errors are split the way h11 splits them: *local* errors mean the caller
misused rill (raised at the call, before any I/O); *remote* errors mean the
provider or the network misbehaved. Lower-layer errors (httpx, orjson) are
translated into this tree in one place per driver, so callers never need to
catch anything else.

    RillError
    ├── ConfigurationError            local: fix the call or the environment
    │   ├── UnknownProviderError
    │   ├── InvalidModelError
    │   ├── MissingAPIKeyError
    │   └── InvalidRequestError       empty messages, unknown role, n < 1, ...
    └── RemoteError                   remote: the provider or network failed
        ├── TransportError            could not talk to the server
        │   ├── ConnectError
        │   └── TimeoutError          connect, first token, idle gap, total
        ├── APIStatusError            an HTTP error status (status, body, headers)
        │   ├── BadRequestError       400, 422
        │   ├── AuthenticationError   401, 403
        │   ├── NotFoundError         404
        │   ├── RateLimitError        429 (with .retry_after)
        │   └── ServerError           5xx
        └── StreamError               failed after the response began (.partial)
            ├── ProviderStreamError   the provider reported an error in the stream
            ├── IncompleteStreamError the body ended before the stream was complete
            └── ProtocolError         bytes that are not a valid stream

Every ``RemoteError`` raised once a response has begun carries ``.partial``:
the :class:`~rill.GenerationResponse` accumulated up to the failure.
Messages never contain API keys: only the name of the variable to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._response import GenerationResponse

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConnectError",
    "IncompleteStreamError",
    "InvalidModelError",
    "InvalidRequestError",
    "MissingAPIKeyError",
    "NotFoundError",
    "ProtocolError",
    "ProviderStreamError",
    "RateLimitError",
    "RemoteError",
    "RillError",
    "ServerError",
    "StreamError",
    "TimeoutError",
    "TransportError",
    "UnknownProviderError",
]


class RillError(Exception):
    """Base of every error rill raises."""


# ---------------------------------------------------------------- local errors


class ConfigurationError(RillError, ValueError):
    """The call or the environment is wrong; nothing was sent."""


class UnknownProviderError(ConfigurationError):
    """The provider part of a model string is not registered."""


class InvalidModelError(ConfigurationError):
    """The model string is malformed or names no known model."""


class MissingAPIKeyError(ConfigurationError):
    """The provider needs an API key and none was given or configured."""

    def __init__(self, provider: str, env_vars: tuple[str, ...]) -> None:
        self.provider = provider
        self.env_vars = env_vars
        hint = " or ".join(env_vars) if env_vars else "api_key="
        super().__init__(
            f"no API key for provider {provider!r}: set {hint} in the environment "
            f"or pass api_key=..."
        )


class InvalidRequestError(ConfigurationError):
    """A message, role or parameter is invalid."""


# --------------------------------------------------------------- remote errors


class RemoteError(RillError):
    """The provider or the network failed. ``partial`` is what arrived before."""

    def __init__(self, message: str, *, partial: GenerationResponse | None = None) -> None:
        super().__init__(message)
        self.partial = partial


class TransportError(RemoteError):
    """The request could not be sent or the response could not be read."""


class ConnectError(TransportError):
    """No connection could be made to the provider."""


class TimeoutError(TransportError):
    """A timeout expired. ``phase`` is ``connect``, ``first_token``, ``idle`` or ``total``."""

    def __init__(
        self, message: str, *, phase: str, partial: GenerationResponse | None = None
    ) -> None:
        super().__init__(message, partial=partial)
        self.phase = phase


class APIStatusError(RemoteError):
    """The provider answered with an HTTP error status.

    ``headers`` has lower-cased names; ``body`` is the decoded JSON body when it
    is JSON, otherwise the text.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any,
        headers: Mapping[str, str],
        provider: str,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.headers = dict(headers)
        self.provider = provider

    @property
    def retry_after(self) -> float | None:
        """Seconds the provider asked us to wait, from ``Retry-After`` or ``retry-after-ms``."""
        return retry_after_seconds(self.headers)


class BadRequestError(APIStatusError):
    """400 or 422: the provider rejected the request."""


class AuthenticationError(APIStatusError):
    """401 or 403: the API key is missing, wrong or not allowed."""


class NotFoundError(APIStatusError):
    """404: unknown model, deployment or path."""


class RateLimitError(APIStatusError):
    """429: too many requests; see ``retry_after``."""


class ServerError(APIStatusError):
    """5xx: the provider failed."""


class StreamError(RemoteError):
    """The stream failed after the response began."""


class ProviderStreamError(StreamError):
    """The provider reported an error inside the stream (an error event or object).

    ``error`` is the provider's error payload; ``code``/``type`` are lifted from it
    where present.
    """

    def __init__(
        self,
        message: str,
        *,
        error: Any,
        partial: GenerationResponse | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.error = error
        details = error if isinstance(error, dict) else {}
        self.code: Any = details.get("code")
        self.type: Any = details.get("type")


class IncompleteStreamError(StreamError):
    """The connection ended before the stream was complete."""


class ProtocolError(StreamError):
    """The body is not a valid stream: malformed framing, invalid UTF-8, bad JSON."""


def status_error(
    status_code: int, body: Any, headers: Mapping[str, str], provider: str
) -> APIStatusError:
    """The typed error for an HTTP error status."""
    cls: type[APIStatusError]
    if status_code in (400, 422):
        cls = BadRequestError
    elif status_code in (401, 403):
        cls = AuthenticationError
    elif status_code == 404:
        cls = NotFoundError
    elif status_code == 429:
        cls = RateLimitError
    elif status_code >= 500:
        cls = ServerError
    else:
        cls = APIStatusError
    detail = _error_detail(body)
    message = f"{provider} returned HTTP {status_code}" + (f": {detail}" if detail else "")
    return cls(message, status_code=status_code, body=body, headers=headers, provider=provider)


def _error_detail(body: Any) -> str:
    """The human part of a provider error body, whatever its shape."""
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg")
            if isinstance(msg, str):
                return msg[:500]
        elif isinstance(err, str):
            return err[:500]
        msg = body.get("message") or body.get("detail")
        if isinstance(msg, str):
            return msg[:500]
    if isinstance(body, str):
        return body.strip()[:500]
    return ""


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Parse ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def provider_error_message(provider: str, error: Any) -> str:
    detail = _error_detail({"error": error} if not isinstance(error, dict) else error)
    if not detail and isinstance(error, dict):
        detail = _error_detail({"error": error})
    return f"{provider} reported an error in the stream" + (f": {detail}" if detail else "")
