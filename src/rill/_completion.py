"""A text completion decided before any I/O: the prompt (or prompts) checked,
the endpoint's own parameters validated, the model resolved to its provider's
text-completion codec and the request built. Misconfiguration raises here, at
the call: a provider without such an endpoint, a chat-only parameter, a prompt
that is not text.

The prepared request then runs on the same drivers and ``StreamSession`` as a
chat call, so timeouts, retries, errors, usage and timing are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Required

from ._errors import InvalidRequestError
from ._messages import Message, MessageRole
from ._params import (
    CompletionParams,
    Timeouts,
    completion_call_params,
    validate_completion_params,
)
from ._request import PreparedRequest, check_call_options, prepared, split_options
from .providers import Call, resolve_model
from .wire._limits import DEFAULT_MAX_EVENT_BYTES

__all__ = ["CompletionOptions", "CompletionPrompt", "completion_option_names", "prepare_completion"]

CompletionPrompt = str | Sequence[str]
"""One prompt, or several (their choices are numbered prompt by prompt)."""


class CompletionOptions(CompletionParams, total=False):
    """Keyword arguments of ``rill.complete*``, besides the prompt,
    ``callback`` and ``http_client``."""

    model: Required[str]
    base_url: str | None
    api_key: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    timeout: float | Timeouts | None
    max_retries: int
    max_event_bytes: int


_OPTION_NAMES = frozenset(CompletionOptions.__annotations__) - frozenset(
    CompletionParams.__annotations__
)


def completion_option_names() -> frozenset[str]:
    """The options of a completion call that are not parameters of the
    endpoint (``model``, ``base_url``, ``timeout``, ...)."""
    return _OPTION_NAMES


def prepare_completion(
    prompt: CompletionPrompt,
    options: Mapping[str, Any],
    *,
    callback: Callable[[Any], Any] | None = None,
) -> PreparedRequest:
    """Validate a text completion's arguments and build its HTTP request."""
    params, endpoint = split_options(options, _OPTION_NAMES, "openai/gpt-3.5-turbo-instruct")
    return _prepare(prompt, callback=callback, params=params, **endpoint)


def _prepare(
    prompt: CompletionPrompt,
    *,
    model: str,
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
    chat, model_id = resolve_model(model)
    provider = chat.for_completions()
    prompts = normalize_prompt(prompt)
    checked = validate_completion_params(params)
    check_call_options(max_retries, callback, max_event_bytes, extra_body)
    best_of = checked.get("best_of")
    call = Call(
        model=model_id,
        messages=tuple(Message(MessageRole.USER, text) for text in prompts),
        params=completion_call_params(checked),
        # The server picks the best of several: nothing to stream until then.
        stream=provider.streaming and (best_of is None or best_of <= 1),
        stream_usage=provider.stream_usage,
        extra_body=dict(extra_body or {}),
        provider=provider.name,
        max_event_bytes=max_event_bytes,
        prompt=prompts,
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


def normalize_prompt(prompt: object) -> tuple[str, ...]:
    """``prompt`` as a tuple of prompts: a string is one; a list or tuple of
    strings is several (at least one)."""
    if isinstance(prompt, str):
        return (prompt,)
    if isinstance(prompt, list | tuple):
        if not prompt:
            raise InvalidRequestError("prompt is an empty list; give at least one prompt")
        for i, item in enumerate(prompt):
            if not isinstance(item, str):
                raise InvalidRequestError(
                    f"prompt[{i}] is {type(item).__name__}, not str; a completion's prompt is "
                    "a string or a list of strings (token ids go in extra_body={'prompt': ...})"
                )
        return tuple(prompt)
    raise InvalidRequestError(
        f"prompt must be a string or a list of strings, not {type(prompt).__name__}"
    )
