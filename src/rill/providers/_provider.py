"""``Provider``: an endpoint (base URL, authentication, environment variables)
bound to a codec. Presets for OpenAI-compatible vendors are instances of it;
a vendor whose URL or auth differs (Azure) is a small subclass."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import orjson

from .._errors import ConfigurationError, MissingAPIKeyError
from .._params import Mode
from ._base import Call, Codec, HTTPRequest

__all__ = ["Provider", "is_loopback"]


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Provider:
    """Where and how to reach one provider.

    ``api_key_env`` / ``base_url_env`` are tried in order. ``auth_header`` and
    ``auth_scheme`` build the credential header (``Authorization: Bearer KEY``
    by default). ``key_required`` is False for local servers. ``stream_usage``
    says whether the endpoint accepts ``stream_options.include_usage``.
    ``streaming`` is False for an endpoint that cannot stream: rill then asks
    for the whole response and yields it as one chunk, so streaming code runs
    unchanged. ``structured_mode`` is how ``rill.stream_object`` asks this
    endpoint for JSON by default: ``json_schema`` (structured output with the
    schema), ``json`` (JSON mode plus the schema in the prompt), ``tool`` (a
    forced tool call whose arguments are the object) or ``text``.
    ``completions`` is the codec of the same endpoint's text-completion API
    (``rill.complete``), or None when it has none.
    """

    name: str
    codec: Codec
    base_url: str
    api_key_env: tuple[str, ...] = ()
    base_url_env: tuple[str, ...] = ()
    key_required: bool = True
    auth_header: str = "authorization"
    auth_scheme: str = "Bearer "
    stream_usage: bool = True
    streaming: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    structured_mode: Mode = "json_schema"
    completions: Codec | None = None

    def for_model(self, model: str) -> tuple[Provider, str]:
        """The provider that serves ``model`` and the model id it is sent as:
        ``self`` and ``model`` unchanged, except for providers that dispatch
        on the model (``emulator/<provider>/<model>``)."""
        return self, model

    def resolve_base_url(self, base_url: str | None) -> str:
        if base_url:
            return base_url.rstrip("/")
        for var in self.base_url_env:
            value = os.environ.get(var)
            if value:
                return value.rstrip("/")
        return self.base_url.rstrip("/")

    def resolve_api_key(self, api_key: str | None) -> str | None:
        if api_key:
            return api_key
        for var in self.api_key_env:
            value = os.environ.get(var)
            if value:
                return value
        if self.key_required:
            raise MissingAPIKeyError(self.name, self.api_key_env)
        return None

    def url(self, base_url: str, call: Call) -> str:
        return base_url + self.codec.path(call)

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        if api_key is None:
            return {}
        return {self.auth_header: self.auth_scheme + api_key}

    def build_request(
        self,
        call: Call,
        *,
        base_url: str | None,
        api_key: str | None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> HTTPRequest:
        """Everything a driver needs to send ``call``. Raises at once on a
        missing key, so misconfiguration never waits for the first ``next()``."""
        root = self.resolve_base_url(base_url)
        try:
            key = self.resolve_api_key(api_key)
        except MissingAPIKeyError:
            # A server on this machine (vLLM, llama.cpp, a proxy, the
            # emulator) decides for itself whether it wants a key.
            if not is_loopback(root):
                raise
            key = None
        body: dict[str, Any] = self.codec.build_body(call)
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if call.stream else "application/json",
            **self.headers,
            **self.auth_headers(key),
            **{k.lower(): v for k, v in (extra_headers or {}).items()},
        }
        return HTTPRequest("POST", self.url(root, call), orjson.dumps(body), headers)

    def for_completions(self) -> Provider:
        """This endpoint speaking its text-completion codec: the same base
        URL, key, headers and variables. ``ConfigurationError`` when it has
        no such API."""
        if self.completions is None:
            raise ConfigurationError(
                f"provider {self.name!r} has no text-completion endpoint; "
                "use rill.generate (chat) with it, or a provider that serves "
                "/completions (openai, vllm, llamacpp, ollama, ...)"
            )
        return replace(self, codec=self.completions)

    def __repr__(self) -> str:
        return (
            f"Provider(name={self.name!r}, codec={self.codec.name!r}, base_url={self.base_url!r})"
        )
