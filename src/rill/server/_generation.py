"""What a stream's producer writes: a rill generation as log events.

Text arrives as ``chunk`` events (``{"text": ...}``); with a JSON Schema the
answer is parsed as it streams and sent as ``patch`` events (lists of
``rill.structured`` patches, each piece of text once); then ``usage``, then
``done``. The upstream call is built (and checked) before the stream is
created, so a bad model or a missing provider key is an HTTP error, not a
stream that fails at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .._async import AsyncStream, agenerate_stream
from .._messages import Prompt
from ..structured import JsonStreamParser, to_patches

__all__ = ["GenerationSpec", "events", "start"]


@dataclass(frozen=True, slots=True)
class GenerationSpec:
    """A checked request: the prompt, the model, generation parameters and an
    optional JSON Schema for structured output."""

    prompt: Prompt
    model: str
    params: Mapping[str, Any]
    schema: Mapping[str, Any] | None = None
    system: str | None = None


def start(spec: GenerationSpec) -> AsyncStream:
    """The upstream stream (not yet sent): raises ``ConfigurationError`` now."""
    params: dict[str, Any] = dict(spec.params)
    if spec.schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": dict(spec.schema), "strict": False},
        }
    return agenerate_stream(spec.prompt, model=spec.model, system=spec.system, **params)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def events(stream: AsyncStream, structured: bool) -> AsyncGenerator[tuple[str, str], None]:
    """The log events of ``stream``, ending with ``done``."""
    parser = JsonStreamParser(allow_prose=False) if structured else None
    async with stream:
        async for chunk in stream:
            text = chunk.content
            if not text:
                continue
            if parser is None:
                yield "chunk", _dumps({"text": text})
            else:
                patches = to_patches(parser.feed(text), closes=True)
                if patches:
                    yield "patch", _dumps(patches)
    if parser is not None:
        patches = to_patches(parser.flush(), closes=True)
        if patches:
            yield "patch", _dumps(patches)
    response = stream.response
    usage = response.usage
    yield (
        "usage",
        _dumps(
            {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
                "estimated": usage.estimated,
            }
        ),
    )
    yield "done", _dumps({"finish_reason": response.finish_reason, "model": response.model})
