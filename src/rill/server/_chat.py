"""``POST /v1/chat/completions``: OpenAI's protocol in front of every provider
rill speaks, so an existing OpenAI client works unchanged. The model string
chooses the provider (``anthropic/claude-...``); provider keys and base URLs
are the server's own. Streamed responses are relayed as they arrive (they
are not resumable: the protocol has no way to ask for the rest).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .._async import AsyncStream
from .._chunks import StreamChunk
from .._errors import RillError
from .._params import GenerationParams
from .._response import GenerationResponse, ToolCall, Usage
from ._generation import GenerationSpec
from ._http import HTTPError, authenticate, json_response, read_json
from ._state import ServerState
from ._streams import check_model, upstream

__all__ = ["chat_completions"]

_PARAMS = frozenset(GenerationParams.__annotations__)
_FIELDS = _PARAMS | {"model", "messages", "stream", "stream_options", "max_completion_tokens"}
# rill's finish reasons that OpenAI's vocabulary lacks.
_FINISH = {"refusal": "content_filter", "error": "stop"}


def _usage(usage: Usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.reasoning_tokens:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cached_tokens:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return body


def _finish(reason: str | None) -> str | None:
    return None if reason is None else _FINISH.get(reason, reason)


def _spec(state: ServerState, body: Mapping[str, Any]) -> tuple[GenerationSpec, bool, bool]:
    unknown = set(body) - _FIELDS
    if unknown:
        raise HTTPError(
            400,
            "invalid_request",
            f"unsupported fields {sorted(unknown)}; allowed: {sorted(_FIELDS)}",
        )
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str):
        raise HTTPError(400, "invalid_request", "model must be a string")
    if not isinstance(messages, list):
        raise HTTPError(400, "invalid_request", "messages must be a list")
    check_model(state, model)
    params = {k: body[k] for k in _PARAMS if k in body and body[k] is not None}
    if body.get("max_completion_tokens") is not None:
        params["max_tokens"] = body["max_completion_tokens"]
    options = body.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    return GenerationSpec(messages, model, params), bool(body.get("stream")), include_usage


async def chat_completions(state: ServerState, request: Request) -> Response:
    tenant = authenticate(request, state.config)
    spec, streamed, include_usage = _spec(
        state, await read_json(request, state.config.max_body_bytes)
    )
    stream: AsyncStream = upstream(spec)
    hold = await state.acquire(tenant)
    completion_id = "chatcmpl-" + secrets.token_hex(12)
    if not streamed:
        try:
            async with stream:
                response = await stream.auntil_done()
        except RillError as exc:
            raise _upstream_error(exc) from None
        finally:
            await state.release(tenant, hold)
        return json_response(_completion(completion_id, spec.model, response))
    try:
        first = await _first(stream)
    except RillError as exc:
        await state.release(tenant, hold)
        raise _upstream_error(exc) from None
    except BaseException:
        await state.release(tenant, hold)
        raise
    slot = _Slot(state, tenant, hold, stream)
    body = _relay(slot, stream, first, completion_id, spec.model, include_usage)
    # A client gone before the body starts never runs the generator's
    # ``finally``; the background task (run either way) releases the slot.
    return StreamingResponse(
        body, media_type="text/event-stream", background=BackgroundTask(slot.aclose)
    )


class _Slot:
    """One streamed relay's hold on its tenant's bound and its upstream, released once."""

    def __init__(self, state: ServerState, tenant: str, hold: str, stream: AsyncStream) -> None:
        self.state, self.tenant, self.hold, self.stream = state, tenant, hold, stream
        self.held = True

    async def aclose(self) -> None:
        if self.held:
            self.held = False
            await self.state.release(self.tenant, self.hold)
            await self.stream.aclose()


async def _first(stream: AsyncStream) -> list[StreamChunk]:
    """Wait for the first chunk, so an upstream that refuses the request is
    an HTTP error status rather than a stream that fails at once."""
    await stream.__aenter__()
    try:
        return [await stream.__anext__()]
    except StopAsyncIteration:
        return []
    except BaseException:
        await stream.aclose()
        raise


def _upstream_error(exc: RillError) -> HTTPError:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403):
        return HTTPError(status, "upstream_error", str(exc))
    return HTTPError(502, "upstream_error", f"{type(exc).__name__}: {exc}")


def _frame(body: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(body) + b"\n\n"


async def _relay(
    slot: _Slot,
    stream: AsyncStream,
    first: list[StreamChunk],
    completion_id: str,
    model: str,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    created = int(time.time())
    started: set[int] = set()

    def chunk_frame(chunk: StreamChunk) -> bytes:
        delta: dict[str, Any] = {}
        if chunk.index not in started:
            started.add(chunk.index)
            delta["role"] = "assistant"
        if chunk.content:
            delta["content"] = chunk.content
        if chunk.refusal:
            delta["refusal"] = chunk.refusal
        if chunk.tool_calls:
            calls = []
            for call in chunk.tool_calls:
                entry: dict[str, Any] = {"index": call.index}
                function: dict[str, Any] = {"arguments": call.arguments}
                if call.id is not None:
                    entry["id"], entry["type"] = call.id, "function"
                if call.name is not None:
                    function["name"] = call.name
                entry["function"] = function
                calls.append(entry)
            delta["tool_calls"] = calls
        choice = {
            "index": chunk.index,
            "delta": delta,
            "finish_reason": _finish(chunk.finish_reason),
        }
        return _frame(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": chunk.model or model,
                "choices": [choice],
            }
        )

    try:
        async with stream:
            for chunk in first:
                yield chunk_frame(chunk)
            async for chunk in stream:
                if chunk.index not in started or _carries(chunk):
                    yield chunk_frame(chunk)
            response = stream.response
        if include_usage:
            yield _frame(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": response.model or model,
                    "choices": [],
                    "usage": _usage(response.usage),
                }
            )
    except RillError as exc:
        error = {"message": f"{type(exc).__name__}: {exc}", "type": "upstream_error"}
        yield _frame({"error": error})
    finally:
        await slot.aclose()
    yield b"data: [DONE]\n\n"


def _carries(chunk: StreamChunk) -> bool:
    return bool(chunk.content or chunk.tool_calls or chunk.refusal or chunk.finish_reason)


def _tool_calls(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in calls
    ]


def _completion(completion_id: str, model: str, response: GenerationResponse) -> dict[str, Any]:
    choices = response.choices or []
    rows: list[dict[str, Any]] = []
    sources: list[Any] = list(choices) if choices else [response]
    for i, source in enumerate(sources):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": source.content or (None if source.tool_calls else ""),
            "refusal": source.refusal or None,
        }
        if source.tool_calls:
            message["tool_calls"] = _tool_calls(source.tool_calls)
        rows.append(
            {
                "index": getattr(source, "index", i),
                "message": message,
                "finish_reason": _finish(source.finish_reason) or "stop",
                "logprobs": None,
            }
        )
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model or model,
        "choices": rows,
        "usage": _usage(response.usage),
    }
