"""Everything decided before any I/O: the model resolved to a provider, the
messages and parameters validated, the HTTP request built. Misconfiguration
raises here, at the call, never at the first ``next()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Required

from ._errors import InvalidRequestError
from ._messages import Message, Prompt, normalize_messages
from ._params import GenerationParams, Timeouts, validate_params
from ._tools import normalize_tool_choice, normalize_tools
from .providers import Call, HTTPRequest, Provider, resolve_model

__all__ = ["PreparedRequest", "RequestOptions", "prepare_request"]


class RequestOptions(GenerationParams, total=False):
    """Keyword arguments every generation function takes, besides the prompt,
    ``callback`` and ``http_client``."""

    model: Required[str]
    system: str | None
    base_url: str | None
    api_key: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeouts | None
    max_retries: int


_OPTION_NAMES = frozenset(RequestOptions.__annotations__) - frozenset(
    GenerationParams.__annotations__
)


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
    params = {k: v for k, v in options.items() if k not in _OPTION_NAMES}
    if "model" not in options:
        raise InvalidRequestError("model= is required, e.g. model='openai/gpt-4o-mini'")
    return _prepare(
        prompt,
        callback=callback,
        params=params,
        **{k: v for k, v in options.items() if k in _OPTION_NAMES},
    )


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
    callback: Callable[[Any], Any] | None = None,
    params: Mapping[str, Any],
) -> PreparedRequest:
    provider, model_id = resolve_model(model)
    messages = normalize_messages(prompt, system=system)
    checked = validate_params(params)
    if not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidRequestError(f"max_retries must be a non-negative int, not {max_retries!r}")
    if callback is not None and not callable(callback):
        raise InvalidRequestError("callback must be callable")
    if extra_body is not None and not isinstance(extra_body, Mapping):
        raise InvalidRequestError("extra_body must be a dict")
    tools = normalize_tools(checked.pop("tools", None) or ())
    choice = checked.pop("tool_choice", None)
    call = Call(
        model=model_id,
        messages=messages,
        params=checked,
        stream=provider.streaming,
        tools=tools,
        tool_choice=None if choice is None else normalize_tool_choice(choice, tools),
        stream_usage=provider.stream_usage,
        extra_body=dict(extra_body or {}),
        provider=provider.name,
    )
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
