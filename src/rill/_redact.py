"""Scrubbing a request's credentials out of what rill reports.

A server may echo the key it was sent: OpenAI's 401 says "Incorrect API key
provided: sk-...", proxies repeat headers in error pages, an in-stream error
can quote the request. rill knows exactly which secrets it sent (the values of
the credential headers of the request), so it replaces each of them, wherever
it appears, in the message, body and headers of every error it raises.
Matching the known values, rather than patterns such as ``sk-...``, catches
every vendor's key format and never mangles text that only looks like a key.

The transports log too: at DEBUG, httpcore logs each response's headers, so a
server that echoes the key in a header would have it written to the user's
logs. Every credential rill sends is remembered (a process uses a handful), and
a filter on httpx's and httpcore's loggers scrubs them from those records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ._errors import APIStatusError, ProviderStreamError, RillError

__all__ = ["CREDENTIAL_HEADERS", "REDACTED", "Redactor", "remember"]

REDACTED = "[REDACTED]"

# Request headers whose values are credentials, whichever provider sets them.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
    }
)

# Shorter values are not scrubbed: replacing every "abc" in a message would
# garble it and protect nothing a real key needs.
_MIN_SECRET = 8


class Redactor:
    """Replaces known secret strings in error messages and payloads."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: tuple[str, ...]) -> None:
        # Longest first, so a bare key inside "Bearer <key>" is caught as part
        # of the longer value before the shorter one is tried.
        self._secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    @classmethod
    def for_headers(cls, headers: Mapping[str, str]) -> Redactor:
        """The secrets carried by a request's credential headers."""
        return cls(secrets_of(headers))

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def scrub_value(self, value: Any) -> Any:
        """A decoded JSON value (or any nesting of dicts, lists and strings)
        with the secrets replaced; other values are returned as they are."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub_value(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_value(v) for v in value)
        return value

    def scrub_error(self, error: RillError) -> None:
        """Scrub ``error`` in place: its message and the payloads it carries."""
        if not self._secrets:
            return
        error.args = tuple(self.scrub_value(arg) for arg in error.args)
        if isinstance(error, APIStatusError):
            error.body = self.scrub_value(error.body)
            error.headers = {k: self.scrub(v) for k, v in error.headers.items()}
        elif isinstance(error, ProviderStreamError):
            error.error = self.scrub_value(error.error)
            error.code = self.scrub_value(error.code)
            error.type = self.scrub_value(error.type)


def secrets_of(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The secrets carried by credential headers: each whole value, and the
    token after an auth scheme (``Bearer <token>``)."""
    secrets: list[str] = []
    for name, value in headers.items():
        if name.lower() not in CREDENTIAL_HEADERS:
            continue
        secrets.append(value)
        _, _, token = value.partition(" ")
        secrets.append(token.strip())
    return tuple(s for s in secrets if len(s) >= _MIN_SECRET)


_sent: set[str] = set()
_log_redactor = Redactor(())


def remember(headers: Mapping[str, str]) -> None:
    """Note the credentials a request is about to send, for the log filter."""
    global _log_redactor
    new = [s for s in secrets_of(headers) if s not in _sent]
    if new:
        _sent.update(new)
        _log_redactor = Redactor(tuple(_sent))


class _ScrubLogRecords(logging.Filter):
    """Rewrites a transport's log record that contains a credential rill sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _sent:
            text = record.getMessage()
            scrubbed = _log_redactor.scrub(text)
            if scrubbed != text:
                record.msg, record.args = scrubbed, None
        return True


# Logger filters do not apply to child loggers, so each one is named.
_TRANSPORT_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_filter = _ScrubLogRecords()
for _name in _TRANSPORT_LOGGERS:
    logging.getLogger(_name).addFilter(_filter)
