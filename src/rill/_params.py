"""The generation parameters rill accepts, with the same names for every
provider, and their validation at the call: chat's (``GenerationParams``)
and text completions' own (``CompletionParams``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypedDict, get_args

from ._errors import InvalidRequestError

__all__ = [
    "CompletionParams",
    "GenerationParams",
    "Mode",
    "ParamName",
    "Params",
    "Timeouts",
    "completion_call_params",
    "validate_completion_params",
    "validate_params",
]

# How a structured call asks for JSON (see ``rill.structured``); a provider
# declares its default. Here, beside the other parameters, so that the
# provider layer can name it without importing structured streaming.
Mode = Literal["json_schema", "json", "tool", "text"]


class GenerationParams(TypedDict, total=False):
    """Common parameters. Anything provider-specific goes in ``extra_body=``."""

    temperature: float
    max_tokens: int
    top_p: float
    stop: str | list[str]
    seed: int
    n: int
    tools: Sequence[object]
    tool_choice: str | dict[str, Any]
    response_format: dict[str, Any]
    logprobs: bool
    top_logprobs: int
    presence_penalty: float
    frequency_penalty: float
    parallel_tool_calls: bool
    reasoning_effort: str
    user: str


_NUMBER = (int, float)
_TYPES: dict[str, tuple[type, ...]] = {
    "temperature": _NUMBER,
    "max_tokens": (int,),
    "top_p": _NUMBER,
    "stop": (str, list, tuple),
    "seed": (int,),
    "n": (int,),
    "tools": (list, tuple),
    "tool_choice": (str, dict),
    "response_format": (dict,),
    "logprobs": (bool,),
    "top_logprobs": (int,),
    "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "parallel_tool_calls": (bool,),
    "reasoning_effort": (str,),
    "user": (str,),
}
assert set(_TYPES) == set(GenerationParams.__annotations__)


class CompletionParams(TypedDict, total=False):
    """The parameters of a text completion (``/completions``), under the
    endpoint's own names. ``logprobs`` is how many likely alternatives to
    return for each token (0 to 5 at OpenAI); ``best_of`` greater than 1
    makes the server pick the best of that many, which cannot be streamed.
    Anything else goes in ``extra_body=``."""

    max_tokens: int
    temperature: float
    top_p: float
    n: int
    best_of: int
    stop: str | list[str]
    seed: int
    echo: bool
    suffix: str
    logprobs: int
    presence_penalty: float
    frequency_penalty: float
    logit_bias: dict[str, float]
    user: str


_COMPLETION_TYPES: dict[str, tuple[type, ...]] = {
    "max_tokens": (int,),
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "n": (int,),
    "best_of": (int,),
    "stop": (str, list, tuple),
    "seed": (int,),
    "echo": (bool,),
    "suffix": (str,),
    "logprobs": (int,),
    "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "logit_bias": (dict,),
    "user": (str,),
}
assert set(_COMPLETION_TYPES) == set(CompletionParams.__annotations__)

# What chat takes and a text completion does not.
_CHAT_ONLY = dict.fromkeys(
    {*_TYPES, "system", "messages"} - set(_COMPLETION_TYPES), "a chat parameter"
)


ParamName = Literal[
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "seed",
    "n",
    "response_format",
    "logprobs",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "parallel_tool_calls",
    "reasoning_effort",
    "user",
    "best_of",
    "echo",
    "suffix",
    "logit_bias",
]
"""The name of a field of ``Params``: what a codec's ``supported_params`` is keyed by."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """The validated parameters of one call, as codecs receive them
    (``Call.params``); None is "not set", and a codec sends nothing for it.

    Chat's (``GenerationParams`` but ``tools`` and ``tool_choice``, which
    ``Call`` holds normalized) and a text completion's (``CompletionParams``)
    share one type, so a codec that serves both reads one vocabulary. A text
    completion's ``logprobs=k`` (k alternatives per token) arrives as chat
    spells it, ``logprobs=True, top_logprobs=k``; ``best_of``, ``echo``,
    ``suffix`` and ``logit_bias`` are set only by text completions."""

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None  # a list, or one sequence
    seed: int | None = None
    n: int | None = None  # choices (per prompt, for a text completion)
    response_format: dict[str, Any] | None = None  # OpenAI's shape
    logprobs: bool | None = None
    top_logprobs: int | None = None  # alternatives per token
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None  # "none", "minimal", "low", ..., "max"
    user: str | None = None  # the end user, for the provider's abuse checks
    # A text completion's own.
    best_of: int | None = None
    echo: bool | None = None
    suffix: str | None = None
    logit_bias: dict[str, float] | None = None


assert [f.name for f in fields(Params)] == list(get_args(ParamName))
assert set(_TYPES) - {"tools", "tool_choice"} <= set(get_args(ParamName)) >= set(_COMPLETION_TYPES)


def completion_call_params(checked: Mapping[str, Any]) -> Params:
    """A text completion's validated parameters (``validate_completion_params``)
    as ``Params``: its count ``logprobs`` becomes ``top_logprobs``."""
    values = dict(checked)
    count = values.pop("logprobs", None)
    if count is not None:
        values["logprobs"], values["top_logprobs"] = True, count
    return Params(**values)


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check names and types; return the parameters that were set."""
    return _validate(params, _TYPES, {})


def validate_completion_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``validate_params`` for a text completion: its own parameters, and a
    chat-only one (``tools``, ``response_format``, ...) named as such."""
    out = _validate(params, _COMPLETION_TYPES, _CHAT_ONLY)
    if out.get("logprobs", 0) < 0:
        raise InvalidRequestError(f"logprobs must be >= 0, got {out['logprobs']}")
    best_of = out.get("best_of")
    if best_of is not None and best_of < out.get("n", 1):
        raise InvalidRequestError(f"best_of ({best_of}) must be at least n ({out.get('n', 1)})")
    return out


def _validate(
    params: Mapping[str, Any], types: Mapping[str, tuple[type, ...]], elsewhere: Mapping[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        expected = types.get(name)
        if expected is None:
            known = ", ".join(sorted(types))
            if name in elsewhere:
                raise InvalidRequestError(
                    f"{name!r} is {elsewhere[name]}, which a text completion does not take; "
                    f"its parameters are: {known}. Use rill.generate for chat"
                )
            raise InvalidRequestError(
                f"unknown parameter {name!r}; known parameters: {known}. "
                f"Pass provider-specific options in extra_body={{...}}"
            )
        if value is None:
            continue
        is_bool = isinstance(value, bool)
        if not isinstance(value, expected) or (is_bool and bool not in expected):
            names = " or ".join(t.__name__ for t in expected)
            raise InvalidRequestError(
                f"parameter {name!r} must be {names}, not {type(value).__name__}"
            )
        out[name] = list(value) if isinstance(value, tuple) and name == "stop" else value
    n = out.get("n", 1)
    if n < 1:
        raise InvalidRequestError(f"n must be at least 1, got {n}")
    if "max_tokens" in out and out["max_tokens"] < 1:
        raise InvalidRequestError(f"max_tokens must be at least 1, got {out['max_tokens']}")
    return out


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait. ``first_token`` bounds the wait for the response and
    its first output; ``idle`` bounds each gap between reads after that;
    ``total`` bounds the whole call (None: unbounded)."""

    connect: float = 10.0
    first_token: float = 300.0
    idle: float = 120.0
    total: float | None = None

    @classmethod
    def of(cls, value: float | Timeouts | None) -> Timeouts:
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            seconds = float(value)
            return cls(connect=seconds, first_token=seconds, idle=seconds, total=None)
        raise InvalidRequestError(f"timeout must be a positive number or Timeouts, not {value!r}")
