"""``/v1/streams``: start a generation, read it as SSE from any instance
(resuming with ``Last-Event-ID``), cancel it from any instance.

Every reader reads the log: on each instance, the stream's ``Broadcast``
(``_fanout``) reads it once for all of that instance's readers, and never
needs the producer to be in its process. While it waits it also watches the
producer's lease, so a producer that died ends the stream with
``error: producer_lost`` (written once, by whichever instance noticed first).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .._async import AsyncStream
from .._errors import ConfigurationError, MissingAPIKeyError
from ._fanout import Reader
from ._generation import GenerationSpec, events, start
from ._http import HTTPError, authenticate, json_response, read_json
from ._log import StoreError, StreamGone, StreamInfo, new_token
from ._producer import Producer
from ._sse import parse_last_event_id, preamble
from ._state import ServerState

__all__ = ["RAW_SEND", "EventStream", "cancel_stream", "create_stream", "read_stream"]

_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_PARAMS = frozenset({"temperature", "max_tokens", "top_p", "stop", "seed"})
_FIELDS = _PARAMS | {
    "model",
    "prompt",
    "messages",
    "system",
    "schema",
    "schema_name",
    "pipeline",
    "input",
}
# Where ``RillServer`` puts the send it was given (see ``RillServer.__call__``).
RAW_SEND = "rill.send"
_SSE_RAW_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def _bad(message: str) -> HTTPError:
    return HTTPError(400, "invalid_request", message)


def parse_spec(state: ServerState, body: Mapping[str, Any]) -> GenerationSpec:
    """The request body as a generation; anything unknown is refused by name."""
    config = state.config
    unknown = set(body) - _FIELDS
    if unknown & {"base_url", "api_key", "extra_headers", "extra_body"}:
        raise _bad("base_url, api_key and extra settings are chosen by the server, not clients")
    if unknown:
        raise _bad(f"unknown fields {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    schema = body.get("schema")
    system = body.get("system")
    model = body.get("model")
    prompt: Any = body.get("messages", body.get("prompt"))
    if "pipeline" in body:
        pipeline = config.pipelines.get(str(body["pipeline"]))
        if pipeline is None:
            raise _bad(f"unknown pipeline {body['pipeline']!r}; known: {sorted(config.pipelines)}")
        values = body.get("input", {})
        if not isinstance(values, dict):
            raise _bad("input must be an object of the template's fields")
        try:
            prompt = pipeline.template.format_map(values)
        except (KeyError, IndexError, ValueError) as exc:
            raise _bad(f"input does not fill the pipeline's template: {exc}") from None
        schema = pipeline.schema if schema is None else schema
        system = pipeline.system if system is None else system
        model = pipeline.model if model is None else model
    if "schema_name" in body:
        named = config.schemas.get(str(body["schema_name"]))
        if named is None:
            raise _bad(f"unknown schema {body['schema_name']!r}; known: {sorted(config.schemas)}")
        schema = named
    if prompt is None:
        raise _bad("give a prompt (text), messages, or a pipeline")
    if schema is not None and not isinstance(schema, dict):
        raise _bad("schema must be a JSON Schema object")
    if system is not None and not isinstance(system, str):
        raise _bad("system must be a string")
    model = config.default_model if model is None else model
    if not isinstance(model, str):
        raise _bad("model must be a string such as 'openai/gpt-4o-mini'")
    check_model(state, model)
    params = {k: body[k] for k in _PARAMS if k in body}
    return GenerationSpec(prompt, model, params, schema, system)


def check_model(state: ServerState, model: str) -> None:
    allowed = state.config.models
    if allowed and model not in allowed:
        raise HTTPError(400, "model_not_allowed", f"model {model!r} is not served here")


def upstream(spec: GenerationSpec) -> AsyncStream:
    """The upstream stream, or the HTTP error that says why it cannot start."""
    try:
        return start(spec)
    except MissingAPIKeyError:
        raise HTTPError(
            503, "provider_not_configured", "the server has no key for this provider"
        ) from None
    except ConfigurationError as exc:
        raise _bad(str(exc)) from None


async def create_stream(state: ServerState, request: Request) -> Response:
    tenant = authenticate(request, state.config)
    spec = parse_spec(state, await read_json(request, state.config.max_body_bytes))
    stream = upstream(spec)
    hold = await state.acquire(tenant)
    stream_id, token = secrets.token_urlsafe(18), new_token()
    config = state.config
    try:
        epoch = await state.store.create(stream_id, tenant, token, config.lease_ttl)
    except StoreError:
        await state.release(tenant, hold)
        raise HTTPError(503, "store_unavailable", "the stream store is not answering") from None
    producer = Producer(
        state.store, stream_id, token, lease_ttl=config.lease_ttl, max_events=config.max_events
    )

    async def produce() -> None:
        try:
            await producer.run(events(stream, spec.schema is not None))
        finally:
            await state.release(tenant, hold)

    state.spawn(produce())
    url = f"{request.scope.get('root_path', '')}/v1/streams/{stream_id}"
    return json_response({"id": stream_id, "epoch": epoch, "url": url}, 201)


async def _owned(state: ServerState, request: Request) -> tuple[str, StreamInfo]:
    tenant = authenticate(request, state.config)
    stream_id = request.path_params["stream_id"]
    not_found = HTTPError(
        404, "stream_not_found", "no such stream (it expired, never existed, or was lost)"
    )
    if not _STREAM_ID.fullmatch(stream_id):
        raise not_found
    try:
        info = await state.store.info(stream_id)
    except StoreError:
        raise HTTPError(503, "store_unavailable", "the stream store is not answering") from None
    # Another key's stream is reported exactly like a missing one.
    if info is None or info.tenant != tenant:
        raise not_found
    return stream_id, info


async def read_stream(state: ServerState, request: Request) -> Response:
    stream_id, info = await _owned(state, request)
    after = 0
    last = request.headers.get("last-event-id")
    if last is None:
        last = request.query_params.get("last_event_id")
    if last is not None:
        parsed = parse_last_event_id(last)
        if parsed is None:
            raise HTTPError(400, "invalid_last_event_id", f"{last!r} is not an event id")
        epoch, after = parsed
        if epoch != info.epoch:
            raise HTTPError(
                409, "stale_last_event_id", "that event id belongs to another stream or epoch"
            )
        if after > info.last_seq:
            raise HTTPError(409, "stale_last_event_id", "that event id is past the stream's end")
        if info.finished and after == info.last_seq:
            return Response(status_code=204)
    return EventStream(state, stream_id, info.epoch, after)


class EventStream(Response):
    """The SSE response of one reader: a preamble, then whatever the
    stream's broadcast on this instance writes to it (``_fanout``)."""

    def __init__(self, state: ServerState, stream_id: str, epoch: str, after: int) -> None:
        # Not Response.__init__, which would declare a length.
        self.status_code = 200
        self.background = None
        self.raw_headers = _SSE_RAW_HEADERS
        self._state = state
        self._stream = (stream_id, epoch, after)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream_id, epoch, after = self._stream
        head = preamble(epoch, after, self._state.config.retry_ms)
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": head, "more_body": True})
        reader = Reader(scope.get(RAW_SEND, send), after)
        broadcast = self._state.fanout.attach(stream_id, epoch, reader)
        gone = asyncio.get_running_loop().create_task(_disconnect(receive))
        try:
            await asyncio.wait((gone, reader.done), return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            broadcast.remove(reader)


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def cancel_stream(state: ServerState, request: Request) -> Response:
    stream_id, _ = await _owned(state, request)
    data = orjson.dumps({"reason": "cancelled by the client"}).decode()
    try:
        ended = await state.store.finish(stream_id, "cancelled", data, if_lapsed=False)
    except StreamGone:
        raise HTTPError(404, "stream_not_found", "no such stream") from None
    except StoreError:
        raise HTTPError(503, "store_unavailable", "the stream store is not answering") from None
    return json_response({"id": stream_id, "cancelled": ended})
