"""Everything decided before any I/O: the model resolved to a provider, the
messages and parameters validated, the HTTP request built. Misconfiguration
raises here, at the call, never at the first ``next()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Required, TypedDict

from ._errors import InvalidRequestError
from ._messages import Message, Prompt, normalize_messages
from ._params import GenerationParams, Params, Timeouts, validate_params
from ._tools import normalize_tool_choice, normalize_tools
from .providers import (
    Call,
    HTTPRequest,
    Provider,
    get_provider,
    provider_names,
    resolve_model,
)
from .wire._limits import DEFAULT_MAX_EVENT_BYTES

__all__ = [
    "PreparedRequest",
    "check_call_options",
    "prepared",
    "reject_async_callback",
    "EndpointOptions",
    "RequestOptions",
    "split_options",
    "ResumeOptions",
    "prepare_request",
    "prepare_resume",
]


class EndpointOptions(GenerationParams, total=False):
    """The keyword arguments of a generation call other than ``model``: the
    parameters, and where and how to send them. ``RequestOptions`` requires
    ``model``; a ``rill.Client`` (which may hold a default model) and the
    structured functions, which take one, build on this instead."""

    system: str | None
    base_url: str | None
    api_key: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeouts | None
    max_retries: int
    max_event_bytes: int


class RequestOptions(EndpointOptions, total=False):
    """Keyword arguments every generation function takes, besides the prompt,
    ``callback`` and ``http_client``."""

    model: Required[str]


_OPTION_NAMES = frozenset(RequestOptions.__annotations__) - frozenset(
    GenerationParams.__annotations__
)


class ResumeOptions(TypedDict, total=False):
    """Keyword arguments of ``resume_stream``: which endpoint (``model`` is
    ``"provider"`` or ``"provider/model"``), where to resume, and transport."""

    model: str
    starting_after: int | None
    base_url: str | None
    api_key: str | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeouts | None
    max_retries: int


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    provider: Provider
    call: Call
    http: HTTPRequest
    timeouts: Timeouts
    max_retries: int
    callback: Callable[[Any], Any] | None
    callback_is_async: bool

    @property
    def messages(self) -> tuple[Message, ...]:
        return self.call.messages


def prepare_request(
    prompt: Prompt,
    options: Mapping[str, Any],
    *,
    callback: Callable[[Any], Any] | None = None,
) -> PreparedRequest:
    """Validate a call's arguments and build its HTTP request."""
    params, endpoint = split_options(options, _OPTION_NAMES, "openai/gpt-4o-mini")
    return _prepare(prompt, callback=callback, params=params, **endpoint)


def split_options(
    options: Mapping[str, Any], option_names: frozenset[str], example_model: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A call's keyword arguments as (parameters of the endpoint, options of
    the call: ``model``, ``base_url``, ``timeout``, ...); ``model`` is required."""
    if "model" not in options:
        raise InvalidRequestError(f"model= is required, e.g. model={example_model!r}")
    params = {k: v for k, v in options.items() if k not in option_names}
    return params, {k: v for k, v in options.items() if k in option_names}


def _prepare(
    prompt: Prompt,
    *,
    model: str,
    system: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    extra_body: Mapping[str, Any] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float | Timeouts | None = None,
    max_retries: int = 2,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    callback: Callable[[Any], Any] | None = None,
    params: Mapping[str, Any],
) -> PreparedRequest:
    provider, model_id = resolve_model(model)
    messages = portable_messages(normalize_messages(prompt, system=system), provider.codec.name)
    checked = validate_params(params)
    check_call_options(max_retries, callback, max_event_bytes, extra_body)
    tools = normalize_tools(checked.pop("tools", None) or ())
    choice = checked.pop("tool_choice", None)
    call = Call(
        model=model_id,
        messages=messages,
        params=Params(**checked),
        stream=provider.streaming,
        tools=tools,
        tool_choice=None if choice is None else normalize_tool_choice(choice, tools),
        stream_usage=provider.stream_usage,
        extra_body=dict(extra_body or {}),
        provider=provider.name,
        max_event_bytes=max_event_bytes,
    )
    return prepared(
        provider,
        call,
        base_url=base_url,
        api_key=api_key,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
        callback=callback,
    )


def check_call_options(
    max_retries: object, callback: object, max_event_bytes: object, extra_body: object
) -> None:
    """The options every call takes besides its parameters, checked at the call."""
    _check_driver_options(max_retries, callback)
    if not isinstance(max_event_bytes, int) or isinstance(max_event_bytes, bool):
        raise InvalidRequestError(f"max_event_bytes must be an int, not {max_event_bytes!r}")
    if max_event_bytes < 1024:
        raise InvalidRequestError(f"max_event_bytes must be at least 1024, not {max_event_bytes}")
    if extra_body is not None and not isinstance(extra_body, Mapping):
        raise InvalidRequestError("extra_body must be a dict")


def prepared(
    provider: Provider,
    call: Call,
    *,
    base_url: str | None,
    api_key: str | None,
    extra_headers: Mapping[str, str] | None,
    timeout: float | Timeouts | None,
    max_retries: int,
    callback: Callable[[Any], Any] | None,
) -> PreparedRequest:
    """``call``'s HTTP request built by ``provider`` (raising at once on a
    missing key or what the codec cannot express), with the driver's options."""
    http = provider.build_request(
        call, base_url=base_url, api_key=api_key, extra_headers=extra_headers
    )
    return PreparedRequest(
        provider=provider,
        call=call,
        http=http,
        timeouts=Timeouts.of(timeout),
        max_retries=max_retries,
        callback=callback,
        callback_is_async=callback is not None and inspect.iscoroutinefunction(callback),
    )


def prepare_resume(
    response_id: str,
    options: Mapping[str, Any],
    *,
    callback: Callable[[Any], Any] | None = None,
) -> PreparedRequest:
    """Validate a call to resume a stored response's stream and build its
    request (a GET with no body, made by the provider's codec)."""
    unknown = set(options) - frozenset(ResumeOptions.__annotations__)
    if unknown:
        raise InvalidRequestError(
            f"unknown option(s) {sorted(unknown)} for resuming a stream; "
            f"known: {sorted(ResumeOptions.__annotations__)}"
        )
    return _prepare_resume(response_id, callback=callback, **options)


def _prepare_resume(
    response_id: str,
    *,
    model: str = "openai-responses",
    starting_after: int | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float | Timeouts | None = None,
    max_retries: int = 2,
    callback: Callable[[Any], Any] | None = None,
) -> PreparedRequest:
    if isinstance(model, str) and "/" not in model and model.strip() == model:
        provider, model_id = get_provider(model), ""
    else:
        provider, model_id = resolve_model(model)
    resume = getattr(provider.codec, "resume_request", None)
    if resume is None:
        raise InvalidRequestError(
            f"provider {provider.name!r} cannot resume a stream; use 'openai-responses'"
        )
    _check_driver_options(max_retries, callback)
    headers = {
        "accept": "text/event-stream",
        **provider.headers,
        **provider.auth_headers(provider.resolve_api_key(api_key)),
        **{k.lower(): v for k, v in (extra_headers or {}).items()},
    }
    http: HTTPRequest = resume(
        response_id,
        root=provider.resolve_base_url(base_url),
        headers=headers,
        starting_after=starting_after,
    )
    return PreparedRequest(
        provider=provider,
        call=Call(model=model_id, messages=(), provider=provider.name),
        http=http,
        timeouts=Timeouts.of(timeout),
        max_retries=max_retries,
        callback=callback,
        callback_is_async=callback is not None and inspect.iscoroutinefunction(callback),
    )


def reject_async_callback(request: PreparedRequest) -> None:
    """The sync API cannot await a coroutine callback: say so at the call
    rather than never running it."""
    if request.callback_is_async:
        raise InvalidRequestError(
            "callback is a coroutine function, which the sync API cannot await; "
            "use agenerate_stream (or pass a plain function)"
        )


def portable_messages(messages: tuple[Message, ...], codec: str) -> tuple[Message, ...]:
    """``messages`` without provider-specific state (signatures, items) that
    came from a provider whose wire format is not ``codec``. It lives here, with
    request preparation, because it needs the provider registry, which the
    value layer (``_messages``) must not import."""

    def foreign(origin: str) -> bool:
        return origin not in provider_names() or get_provider(origin).codec.name != codec

    return tuple(
        replace(m, reasoning_signature=None, items=None, origin=None)
        if m.origin is not None and (m.items or m.reasoning_signature) and foreign(m.origin)
        else m
        for m in messages
    )


def _check_driver_options(max_retries: object, callback: object) -> None:
    if not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidRequestError(f"max_retries must be a non-negative int, not {max_retries!r}")
    if callback is not None and not callable(callback):
        raise InvalidRequestError("callback must be callable")
