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
    ├── RemoteError                   remote: the provider or network failed
    │   ├── TransportError            could not talk to the server
    │   │   ├── ConnectError
    │   │   └── TimeoutError          connect, first token, idle gap, total
    │   ├── APIStatusError            an HTTP error status (status, body, headers)
    │   │   ├── RedirectError         3xx: never followed (.location)
    │   │   ├── BadRequestError       400, 422
    │   │   ├── AuthenticationError   401, 403
    │   │   ├── NotFoundError         404
    │   │   ├── RateLimitError        429 (with .retry_after)
    │   │   └── ServerError           5xx
    │   └── StreamError               failed after the response began (.partial)
    │       ├── ProviderStreamError   the provider reported an error in the stream
    │       ├── IncompleteStreamError the body ended before the stream was complete
    │       └── ProtocolError         bytes that are not a valid stream
    ├── JsonStreamError               structured: the text is not JSON, or nests
    │                                 deeper than max_depth (.position)
    └── StructuredValidationError     structured: the complete JSON does not
                                      validate (.raw_text, .partial)

The two structured errors live in ``rill.structured`` (loaded with it) and
are exported from ``rill`` too; every error's ``__module__`` is ``rill``, so
reprs and tracebacks show the public name.

Every ``RemoteError`` raised once a response has begun carries ``.partial``:
the :class:`~rill.GenerationResponse` accumulated up to the failure.
Messages never contain API keys: only the name of the variable to set; a key
a server echoes back is replaced by ``[REDACTED]`` in every error's message,
body and headers.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
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
    "RedirectError",
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


class RedirectError(APIStatusError):
    """3xx: the server redirected the request. rill does not follow redirects,
    because the request carries credentials that must not reach another
    origin; ``location`` is where the server pointed (set ``base_url`` to it
    if it is right)."""

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


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
    if 300 <= status_code < 400:
        location = headers.get("location")
        where = f" to {location}" if location else " with no Location"
        message = (
            f"{provider} answered HTTP {status_code}, a redirect{where}; rill does not "
            "follow redirects (they would carry the API key): set base_url to the final URL"
        )
        return RedirectError(
            message, status_code=status_code, body=body, headers=headers, provider=provider
        )
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
    """Seconds to wait from ``retry-after-ms`` or ``retry-after``, or None.

    ``retry-after`` is delta-seconds or an HTTP date (RFC 9110 §10.2.3), in
    any of the three forms of §5.6.7. A value that cannot be read is None;
    one that is negative or in the past is 0: never negative, NaN or infinite,
    and it never raises, whatever the server sent.
    """
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    when = _http_date(value)
    if when is None:
        return None
    return max(0.0, when - time.time())


# Delta-seconds (RFC 9110: 1*DIGIT), leniently with a fraction or a sign.
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_TIME = r"(\d{1,2}):(\d{2}):(\d{2})"
# GMT is what HTTP sends; "+0000"/"-0000" (and any offset) and UTC are seen
# from servers that format dates as email does.
_ZONE = r"(?:\s*(GMT|UTC|UT|Z|[+-]\d{4}))?"
# IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
_IMF = re.compile(
    r"\s*(?:[a-z]+,?\s*)?(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+" + _TIME + _ZONE + r"\s*", re.I
)
# rfc850-date (obsolete): Sunday, 06-Nov-94 08:49:37 GMT
_RFC850 = re.compile(
    r"\s*(?:[a-z]+,?\s*)?(\d{1,2})-([a-z]{3})-(\d{2})\s+" + _TIME + _ZONE + r"\s*", re.I
)
# asctime-date (obsolete): Sun Nov  6 08:49:37 1994
_ASCTIME = re.compile(
    r"\s*(?:[a-z]+\s+)?([a-z]{3})\s+(\d{1,2})\s+" + _TIME + r"\s+(\d{4})\s*", re.I
)


def _seconds(value: str | None) -> float | None:
    """A delta-seconds value: None unless it is a finite number; at least 0."""
    if value is None or not _NUMBER.fullmatch(value):
        return None
    seconds = float(value)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _http_date(value: str) -> float | None:
    """An HTTP date as a POSIX timestamp, or None when it is not one."""
    try:
        if m := _IMF.fullmatch(value):
            day, month, year, hour, minute, second, zone = m.groups()
            return _timestamp(int(year), month, day, hour, minute, second, zone)
        if m := _RFC850.fullmatch(value):
            day, month, yy, hour, minute, second, zone = m.groups()
            return _timestamp(_full_year(int(yy)), month, day, hour, minute, second, zone)
        if m := _ASCTIME.fullmatch(value):
            month, day, hour, minute, second, year = m.groups()
            return _timestamp(int(year), month, day, hour, minute, second, None)
    except (ValueError, OverflowError):  # 31 Feb, hour 25, year 0
        return None
    return None


def _full_year(yy: int) -> int:
    """RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in
    the future is the most recent past year with the same last two digits."""
    this_year = time.gmtime().tm_year
    year = this_year - this_year % 100 + yy
    return year - 100 if year > this_year + 50 else year


def _timestamp(
    year: int, month: str, day: str, hour: str, minute: str, second: str, zone: str | None
) -> float | None:
    number = _MONTHS.get(month.lower())
    if number is None:
        return None
    # A leap second (:60) is read as the last second of its minute.
    when = datetime(
        year, number, int(day), int(hour), int(minute), min(int(second), 59), tzinfo=UTC
    )
    offset = 0
    if zone and zone[0] in "+-":
        offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60
        if zone[0] == "+":
            offset = -offset
    return when.timestamp() + offset


def provider_error_message(provider: str, error: Any) -> str:
    detail = _error_detail({"error": error} if not isinstance(error, dict) else error)
    if not detail and isinstance(error, dict):
        detail = _error_detail({"error": error})
    return f"{provider} reported an error in the stream" + (f": {detail}" if detail else "")


for _name in __all__:
    globals()[_name].__module__ = "rill"
