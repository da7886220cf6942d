"""The clients under test, each written the way its documentation shows.

Every client reads the same stream and returns the whole text, so the harness
can check that nobody skipped work. A client imports its library in ``load()``,
not at module import, so a missing optional package is reported, not fatal,
and a fresh process pays only for the library it measures. The loops stay plain
``for`` + ``append`` in every client, like the floor's, so they differ only in
the library they drive. The Anthropic clients read the same text from the same
server, which answers ``/v1/messages`` in the Anthropic Messages format; the
text-completion clients read it from ``/v1/completions``.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any, ClassVar, TypeVar

from ._base import base_rill, has_base

__all__ = ["BASE_TWINS", "PEERS", "Library", "Peer", "load", "missing"]

MODEL = "bench"
PROMPT = "Count for me."
MESSAGES = [{"role": "user", "content": PROMPT}]
ANTHROPIC_MODEL = "claude-haiku-4-5"
MAX_TOKENS = 1024
"""Anthropic requires ``max_tokens``; the emulator ignores it."""


class Library(ABC):
    """A library under test: ``load`` imports it, ``close`` releases what it opened."""

    name: ClassVar[str]
    module: ClassVar[str]
    """The import that must succeed, and the distribution whose version is shown."""

    @abstractmethod
    def load(self) -> None:
        """Import the library (kept out of the timed region)."""

    def close(self) -> None:  # noqa: B027 - optional; some libraries keep their own clients
        """Release the client."""

    @classmethod
    def version(cls) -> str:
        try:
            return importlib.metadata.version(cls.module.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            return "?"


class Peer(Library):
    """One client: ``load`` the library, ``open`` a reusable client, then stream."""

    @abstractmethod
    def open(self, url: str) -> None:
        """Build the client object(s) that every later request reuses."""

    @abstractmethod
    def read(self) -> str:
        """Stream one whole response and return its text."""

    @abstractmethod
    def first(self) -> float:
        """Stream one whole response; return ``perf_counter()`` at its first text piece.

        Reading to the end leaves the connection in the pool for the next request.
        """


def missing(peer: type[Library]) -> bool:
    return importlib.util.find_spec(peer.module) is None


L = TypeVar("L", bound=Library)


def load(
    registry: Mapping[str, type[L]], names: Iterable[str]
) -> tuple[dict[str, L], dict[str, str]]:
    """Import each selected client's library, in registry order; a missing one is
    noted ("not installed", "import failed: ...") and left out."""
    selected = set(names)
    peers: dict[str, L] = {}
    status: dict[str, str] = {}
    for name, cls in registry.items():
        if name not in selected:
            continue
        if missing(cls):
            status[name] = "not installed"
            continue
        peer = cls()
        try:
            peer.load()
        except Exception as exc:  # an optional peer must not stop the run
            status[name] = f"import failed: {type(exc).__name__}: {exc}"
        else:
            peers[name] = peer
            status[name] = "ok"
    return peers, status


class _AsyncPeer(Peer):
    """Runs every request of one client on one event loop, from ``open`` to ``close``."""

    def open(self, url: str) -> None:
        self._runner = asyncio.Runner()
        self._runner.run(self._open(url))

    def read(self) -> str:
        return str(self._runner.run(self._read()))

    def first(self) -> float:
        return float(self._runner.run(self._first()))

    def close(self) -> None:
        self._runner.run(self._close())
        self._runner.close()

    @abstractmethod
    async def _open(self, url: str) -> None: ...

    @abstractmethod
    async def _read(self) -> str: ...

    @abstractmethod
    async def _first(self) -> float: ...

    @abstractmethod
    async def _close(self) -> None: ...


class Floor(Peer):
    """The naive baseline: httpx text lines, ``json.loads`` per event."""

    name = "floor (httpx+json)"
    module = "httpx"

    def load(self) -> None:
        import json

        import httpx

        self._httpx: Any = httpx
        self._loads = json.loads

    def open(self, url: str) -> None:
        self._client = self._httpx.Client(timeout=60)
        self._url = url + "/chat/completions"
        self._body = {"model": MODEL, "messages": MESSAGES, "stream": True}

    def read(self) -> str:
        loads = self._loads
        parts = []
        with self._client.stream("POST", self._url, json=self._body) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    choices = loads(data)["choices"]
                    if choices:
                        parts.append(choices[0]["delta"].get("content") or "")
        return "".join(parts)

    def first(self) -> float:
        stamp = 0.0
        with self._client.stream("POST", self._url, json=self._body) as response:
            for line in response.iter_lines():
                if not stamp and line.startswith("data: {"):
                    choices = self._loads(line[6:])["choices"]
                    if choices and choices[0]["delta"].get("content"):
                        stamp = perf_counter()
        return stamp

    def close(self) -> None:
        self._client.close()


class _Rill(Peer):
    module = "rill"

    def load(self) -> None:
        import httpx

        import rill

        self._httpx: Any = httpx
        self._rill: Any = rill

    def _options(self, url: str, client: Any) -> dict[str, Any]:
        return {"model": "openai/" + MODEL, "base_url": url, "api_key": "x", "http_client": client}


class RillSync(_Rill):
    """rill's sync API with its defaults: rill's own pooled client, as the
    README recommends."""

    name = "rill sync"
    function = "generate_stream"
    """The rill function that streams: chat, or ``complete_stream`` for text completions."""

    def open(self, url: str) -> None:
        self._client = None
        self._kwargs = self._options(url, self._client)
        self._stream = getattr(self._rill, self.function)

    def read(self) -> str:
        parts = []
        with self._stream(PROMPT, **self._kwargs) as stream:
            for chunk in stream:
                parts.append(chunk.content)
            stream.response  # noqa: B018 - the accumulated response is part of the cost
        return "".join(parts)

    def first(self) -> float:
        stamp = 0.0
        with self._stream(PROMPT, **self._kwargs) as stream:
            for chunk in stream:
                if not stamp and chunk.content:
                    stamp = perf_counter()
        return stamp


class RillSyncHttpx(RillSync):
    """rill's sync API given the caller's own ``httpx.Client``, whose bodies
    rill reads through httpx."""

    name = "rill sync, httpx client"

    def open(self, url: str) -> None:
        super().open(url)
        self._client = self._httpx.Client(timeout=60)
        self._kwargs = self._options(url, self._client)

    def close(self) -> None:
        self._client.close()


class RillAsync(_Rill, _AsyncPeer):
    """rill's async API with its defaults: the event loop's pooled transport
    (aiohttp on asyncio), as the README recommends."""

    name = "rill async"
    function = "agenerate_stream"

    async def _open(self, url: str) -> None:
        self._client = None
        self._kwargs = self._options(url, self._client)
        self._stream = getattr(self._rill, self.function)

    async def _read(self) -> str:
        parts = []
        async with self._stream(PROMPT, **self._kwargs) as stream:
            async for chunk in stream:
                parts.append(chunk.content)
            stream.response  # noqa: B018
        return "".join(parts)

    async def _first(self) -> float:
        stamp = 0.0
        async with self._stream(PROMPT, **self._kwargs) as stream:
            async for chunk in stream:
                if not stamp and chunk.content:
                    stamp = perf_counter()
        return stamp

    async def _close(self) -> None:
        pass


class RillCompletionsSync(RillSync):
    """rill's text completions (``/completions``) from the same server."""

    name = "rill completions sync"
    function = "complete_stream"


class RillCompletionsAsync(RillAsync):
    name = "rill completions async"
    function = "acomplete_stream"


class RillAnthropicSync(RillSync):
    """rill on the Anthropic Messages protocol (the same emulator answers ``/v1/messages``)."""

    name = "rill anthropic sync"

    def _options(self, url: str, client: Any) -> dict[str, Any]:
        return _anthropic_options(url, client)


class RillAnthropicAsync(RillAsync):
    name = "rill anthropic async"

    def _options(self, url: str, client: Any) -> dict[str, Any]:
        return _anthropic_options(url, client)


def _anthropic_options(url: str, client: Any) -> dict[str, Any]:
    # Like the anthropic SDK, rill takes the base URL without ``/v1``.
    return {
        "model": "anthropic/" + ANTHROPIC_MODEL,
        "base_url": url.removesuffix("/v1"),
        "api_key": "x",
        "http_client": client,
    }


class _OpenAI(Peer):
    module = "openai"

    def load(self) -> None:
        import openai

        self._openai: Any = openai


class OpenAISync(_OpenAI):
    name = "openai SDK sync"

    def open(self, url: str) -> None:
        self._client = self._openai.OpenAI(base_url=url, api_key="x")

    def read(self) -> str:
        parts = []
        stream = self._client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        for chunk in stream:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
        return "".join(parts)

    def first(self) -> float:
        stamp = 0.0
        stream = self._client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        for chunk in stream:
            if not stamp and chunk.choices and chunk.choices[0].delta.content:
                stamp = perf_counter()
        return stamp

    def close(self) -> None:
        self._client.close()


class OpenAIAsync(_OpenAI, _AsyncPeer):
    name = "openai SDK async"

    async def _open(self, url: str) -> None:
        self._client = self._openai.AsyncOpenAI(base_url=url, api_key="x")

    async def _read(self) -> str:
        parts = []
        create = self._client.chat.completions.create
        async for chunk in await create(model=MODEL, messages=MESSAGES, stream=True):
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
        return "".join(parts)

    async def _first(self) -> float:
        stamp = 0.0
        create = self._client.chat.completions.create
        async for chunk in await create(model=MODEL, messages=MESSAGES, stream=True):
            if not stamp and chunk.choices and chunk.choices[0].delta.content:
                stamp = perf_counter()
        return stamp

    async def _close(self) -> None:
        await self._client.close()


class OpenAICompletionsSync(_OpenAI):
    """The SDK's text-completions stream: ``completions.create(stream=True)``."""

    name = "openai SDK completions sync"

    def open(self, url: str) -> None:
        self._client = self._openai.OpenAI(base_url=url, api_key="x")

    def read(self) -> str:
        parts = []
        for chunk in self._client.completions.create(model=MODEL, prompt=PROMPT, stream=True):
            if chunk.choices:
                parts.append(chunk.choices[0].text)
        return "".join(parts)

    def first(self) -> float:
        stamp = 0.0
        for chunk in self._client.completions.create(model=MODEL, prompt=PROMPT, stream=True):
            if not stamp and chunk.choices and chunk.choices[0].text:
                stamp = perf_counter()
        return stamp

    def close(self) -> None:
        self._client.close()


class OpenAICompletionsAsync(_OpenAI, _AsyncPeer):
    name = "openai SDK completions async"

    async def _open(self, url: str) -> None:
        self._client = self._openai.AsyncOpenAI(base_url=url, api_key="x")

    async def _read(self) -> str:
        parts = []
        create = self._client.completions.create
        async for chunk in await create(model=MODEL, prompt=PROMPT, stream=True):
            if chunk.choices:
                parts.append(chunk.choices[0].text)
        return "".join(parts)

    async def _first(self) -> float:
        stamp = 0.0
        create = self._client.completions.create
        async for chunk in await create(model=MODEL, prompt=PROMPT, stream=True):
            if not stamp and chunk.choices and chunk.choices[0].text:
                stamp = perf_counter()
        return stamp

    async def _close(self) -> None:
        await self._client.close()


class AnthropicSync(Peer):
    name = "anthropic SDK sync"
    module = "anthropic"

    def load(self) -> None:
        import anthropic

        self._anthropic: Any = anthropic

    def open(self, url: str) -> None:
        self._client = self._anthropic.Anthropic(base_url=url.removesuffix("/v1"), api_key="x")
        self._kwargs = {"model": ANTHROPIC_MODEL, "max_tokens": MAX_TOKENS, "messages": MESSAGES}

    def read(self) -> str:
        parts = []
        with self._client.messages.stream(**self._kwargs) as stream:
            for text in stream.text_stream:
                parts.append(text)
        return "".join(parts)

    def first(self) -> float:
        stamp = 0.0
        with self._client.messages.stream(**self._kwargs) as stream:
            for text in stream.text_stream:
                if not stamp and text:
                    stamp = perf_counter()
        return stamp

    def close(self) -> None:
        self._client.close()


class LiteLLM(Peer):
    name = "litellm"
    module = "litellm"

    def load(self) -> None:
        # Use the bundled price table instead of fetching one over the network at import.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        self._completion = litellm.completion

    def open(self, url: str) -> None:
        self._kwargs: dict[str, Any] = {
            "model": "openai/" + MODEL,
            "api_base": url,
            "api_key": "x",
            "messages": MESSAGES,
            "stream": True,
        }

    def read(self) -> str:
        parts = []
        for chunk in self._completion(**self._kwargs):
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
        return "".join(parts)

    def first(self) -> float:
        stamp = 0.0
        for chunk in self._completion(**self._kwargs):
            if not stamp and chunk.choices and chunk.choices[0].delta.content:
                stamp = perf_counter()
        return stamp


class LangChain(Peer):
    name = "langchain-openai"
    module = "langchain_openai"

    def load(self) -> None:
        import langchain_openai

        self._chat_model: Any = langchain_openai.ChatOpenAI

    def open(self, url: str) -> None:
        self._model = self._chat_model(model=MODEL, base_url=url, api_key="x", streaming=True)

    def read(self) -> str:
        parts = []
        for chunk in self._model.stream(PROMPT):
            parts.append(chunk.content)
        return "".join(parts)

    def first(self) -> float:
        stamp = 0.0
        for chunk in self._model.stream(PROMPT):
            if not stamp and chunk.content:
                stamp = perf_counter()
        return stamp


class RillBaseSync(RillSync):
    """rill sync from the base commit (``make bench-base``)."""

    name = "rill base sync"

    def load(self) -> None:
        super().load()
        self._rill = base_rill()


class RillBaseAsync(RillAsync):
    """rill async from the base commit (``make bench-base``)."""

    name = "rill base async"

    def load(self) -> None:
        super().load()
        self._rill = base_rill()


PEERS: dict[str, type[Peer]] = {
    "floor": Floor,
    "rill-sync": RillSync,
    "rill-sync-httpx": RillSyncHttpx,
    "rill-async": RillAsync,
    "rill-completions-sync": RillCompletionsSync,
    "rill-completions-async": RillCompletionsAsync,
    "rill-anthropic-sync": RillAnthropicSync,
    "rill-anthropic-async": RillAnthropicAsync,
    "openai-sync": OpenAISync,
    "openai-async": OpenAIAsync,
    "openai-completions-sync": OpenAICompletionsSync,
    "openai-completions-async": OpenAICompletionsAsync,
    "anthropic-sync": AnthropicSync,
    "litellm": LiteLLM,
    "langchain": LangChain,
}
"""Key (as used on the command line) -> client. The first one is the floor."""
if has_base():
    PEERS |= {"rill-base-sync": RillBaseSync, "rill-base-async": RillBaseAsync}
BASE_TWINS = {"rill-sync": "rill-base-sync", "rill-async": "rill-base-async"}
"""Each rill client -> the same client from the base commit."""
