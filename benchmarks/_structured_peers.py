"""The clients of the structured benchmark, each written the way its documentation shows.

Every client streams the same report and returns it validated by ``Report``,
so the harness can check that all of them built the same object. The ones
that show partial objects touch each one (read its title), as a caller would.
``first`` streams one response and notes when the first partial object
reached the caller and how many body bytes the HTTP layer had read by then
(see ``_meter``).
"""

from __future__ import annotations

import asyncio
import json
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from time import perf_counter
from typing import Any, ClassVar

import httpx

from . import _peers
from ._base import base_rill, has_base
from ._document import PartialReport, Report
from ._meter import AsyncMeteredTransport, Meter, MeteredTransport
from ._peers import MODEL, Library

__all__ = ["PEERS", "FirstPartial", "StructuredPeer"]

PROMPT = "Report this quarter's sales by region."
MESSAGES = [{"role": "user", "content": PROMPT}]
_BODY = {"model": MODEL, "messages": MESSAGES, "stream": True}


@dataclass
class FirstPartial:
    at: float
    """``perf_counter()`` when the first partial object reached the caller."""
    received: int
    """Response body bytes the HTTP layer had read by then."""
    text_at_first: int | None = None
    """rill only: characters of JSON text it had consumed at its first partial."""
    text_at_complete: int | None = None
    """rill only: characters consumed when it first reported a field complete."""
    first_complete: str | None = None
    """rill only: that field's path."""


class StructuredPeer(Library):
    """``open`` a reusable client (watched by ``meter`` if given), then stream."""

    partials: ClassVar[bool] = True
    """False for the floor, which only builds the final object."""

    @abstractmethod
    def open(self, url: str, meter: Meter | None = None) -> None: ...

    @abstractmethod
    def read(self) -> Report:
        """Stream one response, touching every partial object; return the final one."""

    def first(self) -> FirstPartial:
        """Stream one response to its end; see ``FirstPartial``."""
        raise NotImplementedError(f"{self.name} shows no partial objects")


class _Async(StructuredPeer):
    """Runs every request of one client on one event loop, from ``open`` to ``close``."""

    def open(self, url: str, meter: Meter | None = None) -> None:
        self._runner = asyncio.Runner()
        self._runner.run(self._open(url, meter))

    def read(self) -> Report:
        # The object comes back through a list, not as the coroutine's result:
        # on its way out, Runner.run formats the result it returns, and a
        # 1 MB Report takes tens of milliseconds to format: no client's cost.
        box: list[Report] = []
        self._runner.run(self._into(box))
        return box[0]

    async def _into(self, box: list[Report]) -> None:
        box.append(await self._read())

    def first(self) -> FirstPartial:
        return self._runner.run(self._first())

    def close(self) -> None:
        try:
            self._runner.run(self._close())
        finally:
            self._runner.close()

    @abstractmethod
    async def _open(self, url: str, meter: Meter | None) -> None: ...

    @abstractmethod
    async def _read(self) -> Report: ...

    @abstractmethod
    async def _first(self) -> FirstPartial: ...

    @abstractmethod
    async def _close(self) -> None: ...


def _client(meter: Meter | None) -> httpx.Client:
    transport = MeteredTransport(meter) if meter is not None else None
    return httpx.Client(timeout=60, transport=transport)


def _async_client(meter: Meter | None) -> httpx.AsyncClient:
    transport = AsyncMeteredTransport(meter) if meter is not None else None
    return httpx.AsyncClient(timeout=60, transport=transport)


def _received(meter: Meter | None) -> int:
    return meter.received if meter is not None else 0


class Floor(StructuredPeer):
    """The streaming benchmark's floor (httpx lines, ``json.loads`` per event), then
    one ``Report.model_validate_json`` of the whole text."""

    name = "floor (httpx+json)"
    module = "httpx"
    partials = False

    def load(self) -> None:
        self._text = _peers.Floor()
        self._text.load()

    def open(self, url: str, meter: Meter | None = None) -> None:
        self._text.open(url)

    def read(self) -> Report:
        return Report.model_validate_json(self._text.read())

    def close(self) -> None:
        self._text.close()


class _Rill(StructuredPeer):
    module = "rill"

    def load(self) -> None:
        import rill

        self._rill: Any = rill

    def _options(self, url: str, client: Any) -> dict[str, Any]:
        return {
            "model": "openai/" + MODEL,
            "base_url": url,
            "api_key": "x",
            "http_client": client,
            "mode": "json_schema",
        }


class RillSync(_Rill):
    name = "rill sync"

    def open(self, url: str, meter: Meter | None = None) -> None:
        self._meter = meter
        self._client = _client(meter)
        self._kwargs = self._options(url, self._client)

    def read(self) -> Report:
        with self._rill.stream_object(PROMPT, Report, **self._kwargs) as stream:
            for partial in stream:
                partial.title  # noqa: B018 - touch it, as a caller would
            final: Report = stream.final
        return final

    def first(self) -> FirstPartial:
        seen: FirstPartial | None = None
        with self._rill.stream_object(PROMPT, Report, **self._kwargs) as stream:
            for _ in stream:
                if seen is None:
                    seen = FirstPartial(perf_counter(), _received(self._meter))
                    seen.text_at_first = len(stream.raw_text)
                if seen.text_at_complete is None and stream.completed:
                    seen.text_at_complete = len(stream.raw_text)
                    seen.first_complete = stream.completed[0]
        assert seen is not None
        return seen

    def close(self) -> None:
        self._client.close()


class RillAsync(_Rill, _Async):
    name = "rill async"

    async def _open(self, url: str, meter: Meter | None) -> None:
        self._meter = meter
        self._client = _async_client(meter)
        self._kwargs = self._options(url, self._client)

    async def _read(self) -> Report:
        async with self._rill.astream_object(PROMPT, Report, **self._kwargs) as stream:
            async for partial in stream:
                partial.title  # noqa: B018
            final: Report = await stream.afinal()
        return final

    async def _first(self) -> FirstPartial:
        seen: FirstPartial | None = None
        async with self._rill.astream_object(PROMPT, Report, **self._kwargs) as stream:
            async for _ in stream:
                if seen is None:
                    seen = FirstPartial(perf_counter(), _received(self._meter))
                    seen.text_at_first = len(stream.raw_text)
                if seen.text_at_complete is None and stream.completed:
                    seen.text_at_complete = len(stream.raw_text)
                    seen.first_complete = stream.completed[0]
        assert seen is not None
        return seen

    async def _close(self) -> None:
        await self._client.aclose()


class _Instructor(StructuredPeer):
    module = "instructor"

    def load(self) -> None:
        import instructor
        import openai

        self._instructor: Any = instructor
        self._openai: Any = openai

    # max_retries=0: a document that fails validation must fail the run, not be
    # requested again behind the harness's back (it never happens here).
    _kwargs: ClassVar[dict[str, Any]] = {
        "model": MODEL,
        "response_model": Report,
        "messages": MESSAGES,
        "max_retries": 0,
    }


def _validated(last: Any) -> Report:
    """instructor's last partial is a ``Report`` once the document is complete."""
    if not isinstance(last, Report):
        raise TypeError(f"the last partial is a {type(last).__name__}, not a complete Report")
    return last


class InstructorSync(_Instructor):
    name = "instructor sync"

    def open(self, url: str, meter: Meter | None = None) -> None:
        self._meter = meter
        openai_client = self._openai.OpenAI(base_url=url, api_key="x", http_client=_client(meter))
        self._client = self._instructor.from_openai(openai_client, mode=self._instructor.Mode.JSON)
        self._openai_client = openai_client

    def read(self) -> Report:
        last = None
        for partial in self._client.chat.completions.create_partial(**self._kwargs):
            partial.title  # noqa: B018
            last = partial
        return _validated(last)

    def first(self) -> FirstPartial:
        seen: FirstPartial | None = None
        for _ in self._client.chat.completions.create_partial(**self._kwargs):
            if seen is None:
                seen = FirstPartial(perf_counter(), _received(self._meter))
        assert seen is not None
        return seen

    def close(self) -> None:
        self._openai_client.close()


class InstructorAsync(_Instructor, _Async):
    name = "instructor async"

    async def _open(self, url: str, meter: Meter | None) -> None:
        self._meter = meter
        openai_client = self._openai.AsyncOpenAI(
            base_url=url, api_key="x", http_client=_async_client(meter)
        )
        self._client = self._instructor.from_openai(openai_client, mode=self._instructor.Mode.JSON)
        self._openai_client = openai_client

    async def _read(self) -> Report:
        last = None
        async for partial in self._client.chat.completions.create_partial(**self._kwargs):
            partial.title  # noqa: B018
            last = partial
        return _validated(last)

    async def _first(self) -> FirstPartial:
        seen: FirstPartial | None = None
        async for _ in self._client.chat.completions.create_partial(**self._kwargs):
            if seen is None:
                seen = FirstPartial(perf_counter(), _received(self._meter))
        assert seen is not None
        return seen

    async def _close(self) -> None:
        await self._openai_client.close()


class _TextPeer(StructuredPeer):
    """A parser fed the text pieces of the floor's httpx + ``json.loads`` loop."""

    def open(self, url: str, meter: Meter | None = None) -> None:
        self._meter = meter
        self._client = _client(meter)
        self._url = url + "/chat/completions"

    def _pieces(self) -> Iterator[str]:
        loads = json.loads
        with self._client.stream("POST", self._url, json=_BODY) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    choices = loads(data)["choices"]
                    if choices and (content := choices[0]["delta"].get("content")):
                        yield content

    def close(self) -> None:
        self._client.close()


class PydanticReparse(_TextPeer):
    """The whole text so far through ``pydantic_core.from_json(allow_partial=True)``
    and ``PartialReport.model_validate`` (every field optional) at each piece."""

    name = "pydantic re-parse"
    module = "pydantic"

    def load(self) -> None:
        import pydantic_core

        self._from_json: Any = pydantic_core.from_json

    def read(self) -> Report:
        from_json, validate = self._from_json, PartialReport.model_validate
        text = ""
        for piece in self._pieces():
            text += piece
            partial = validate(from_json(text, allow_partial=True))
            partial.title  # noqa: B018
        return Report.model_validate_json(text)

    def first(self) -> FirstPartial:
        from_json, validate = self._from_json, PartialReport.model_validate
        seen: FirstPartial | None = None
        text = ""
        for piece in self._pieces():
            text += piece
            validate(from_json(text, allow_partial=True))
            if seen is None:
                seen = FirstPartial(perf_counter(), _received(self._meter))
        assert seen is not None
        return seen


class LangChainJson(_TextPeer):
    """``JsonOutputParser().transform(pieces)``: it yields a dict whenever the
    partial parse of the accumulated text changes."""

    name = "langchain JsonOutputParser"
    module = "langchain_core"

    def load(self) -> None:
        from langchain_core.output_parsers import JsonOutputParser

        self._parser: Any = JsonOutputParser()

    def read(self) -> Report:
        last = None
        for partial in self._parser.transform(self._pieces()):
            partial.get("title")
            last = partial
        return Report.model_validate(last)

    def first(self) -> FirstPartial:
        seen: FirstPartial | None = None
        for _ in self._parser.transform(self._pieces()):
            if seen is None:
                seen = FirstPartial(perf_counter(), _received(self._meter))
        assert seen is not None
        return seen


class RillBaseSync(RillSync):
    """rill sync from the base commit (``make bench-base``)."""

    name = "rill base sync"

    def load(self) -> None:
        self._rill = base_rill()


class RillBaseAsync(RillAsync):
    """rill async from the base commit (``make bench-base``)."""

    name = "rill base async"

    def load(self) -> None:
        self._rill = base_rill()


PEERS: dict[str, type[StructuredPeer]] = {
    "floor": Floor,
    "rill-sync": RillSync,
    "rill-async": RillAsync,
    "instructor-sync": InstructorSync,
    "instructor-async": InstructorAsync,
    "pydantic": PydanticReparse,
    "langchain": LangChainJson,
}
"""Key (as used on the command line) -> client. The first one is the floor."""
if has_base():
    PEERS |= {"rill-base-sync": RillBaseSync, "rill-base-async": RillBaseAsync}
