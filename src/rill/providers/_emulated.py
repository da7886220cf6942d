"""``emulator/...`` models: any provider's protocol, answered on this machine.

Every example should run before anyone has a key. ``emulator/<provider>/<model>``
(or ``emulator/<model>``, whose provider is read from the name as usual, else
OpenAI's) speaks that provider's own wire format to one emulator per process,
started on first use on 127.0.0.1, which answers each request with a reply
that fits it (``rill.testing.AutoReply``): tool calls when tools are offered,
JSON made from the schema of a structured call, reasoning for a reasoning
model. It is a real HTTP server, so streaming, timing and errors behave as
they do with the provider; only the words are scripted.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .._models import bare_model_provider
from ._base import Call
from ._provider import Provider
from ._registry import get_provider, provider_names

if TYPE_CHECKING:
    from ..testing import Emulator

__all__ = ["EmulatorProvider", "shared_emulator"]

# Where each wire format lives under a provider's host, as the emulator routes
# it (by provider name first, for a provider whose URL shape is its own).
_BASE_PATHS = {
    "azure": "/openai/v1",
    "openai-chat": "/v1",
    "openai-completions": "/v1",
    "openai-responses": "/v1",
    "gemini": "/v1beta",
}
# Fast enough for a test suite, slow enough that streaming is visible.
_TTFT = 0.05
_PIECES_PER_SECOND = 200.0

_lock = threading.Lock()
_shared: list[Emulator] = []


def shared_emulator() -> Emulator:
    """The process-wide emulator behind ``emulator/`` models, started on first use."""
    with _lock:
        if not _shared:
            from ..testing import AutoReply, Emulator

            emulator = Emulator(default=AutoReply(ttft=_TTFT, tokens_per_second=_PIECES_PER_SECOND))
            _shared.append(emulator.start())
            atexit.register(emulator.close)
        return _shared[0]


@dataclass(frozen=True, repr=False)
class EmulatorProvider(Provider):
    """The ``emulator`` provider. Registered bare, it picks the provider a
    model names (``for_model``) and returns itself bound to that provider's
    codec, URL shape and structured-output mode; no key is needed."""

    inner: Provider | None = None

    def for_model(self, model: str) -> tuple[Provider, str]:
        if self.inner is not None:
            return self, model
        head, slash, rest = model.partition("/")
        if slash and head != self.name and head in provider_names():
            inner, model = get_provider(head), rest
        else:
            inner = get_provider(bare_model_provider(model) or "openai")
        return EmulatorProvider(
            self.name,
            inner.codec,
            "",
            key_required=False,
            auth_header=inner.auth_header,
            auth_scheme=inner.auth_scheme,
            stream_usage=inner.stream_usage,
            streaming=inner.streaming,
            headers=inner.headers,
            structured_mode=inner.structured_mode,
            completions=inner.completions,
            inner=inner,
        ), model

    def resolve_base_url(self, base_url: str | None) -> str:
        if base_url:
            return base_url.rstrip("/")
        name = self.inner.name if self.inner is not None else self.name
        path = _BASE_PATHS.get(name, _BASE_PATHS.get(self.codec.name, ""))
        return shared_emulator().url + path

    def resolve_api_key(self, api_key: str | None) -> str | None:
        return api_key

    def url(self, base_url: str, call: Call) -> str:
        if self.inner is None:
            return super().url(base_url, call)
        # Bound to text completions (``for_completions``), the inner provider
        # speaks them too: its URL shape with this codec's path.
        inner = (
            self.inner if self.inner.codec is self.codec else replace(self.inner, codec=self.codec)
        )
        return inner.url(base_url, call)

    def __repr__(self) -> str:
        inner = f", inner={self.inner.name!r}" if self.inner is not None else ""
        return f"EmulatorProvider(name={self.name!r}{inner})"
