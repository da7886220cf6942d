"""Every built-in provider either sends each common parameter or refuses it
at the call, naming itself: the registry is walked, so a new provider (or a
codec's declaration, ``supported_params``) cannot forget one."""

from __future__ import annotations

from typing import Any, get_args

import orjson
import pytest

import rill
from rill._completion import prepare_completion
from rill._params import ParamName, Params
from rill._request import prepare_request
from rill.providers import Call, OpenAIChatCodec, Provider, builtin_providers, render_params

LOCAL = "http://127.0.0.1:9"  # nothing listens: every case fails or is built first
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}

# A value for each parameter that asks for something (not the no-op n=1).
CHAT_SAMPLES: dict[str, Any] = {
    "temperature": 0.25,
    "max_tokens": 77,
    "top_p": 0.5,
    "stop": ["END"],
    "seed": 7,
    "n": 2,
    "tools": [TOOL],
    "tool_choice": "required",
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}},
    "logprobs": True,
    "top_logprobs": 3,
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "parallel_tool_calls": False,
    "reasoning_effort": "high",
    "user": "u-1",
}
COMPLETION_SAMPLES: dict[str, Any] = {
    "max_tokens": 77,
    "temperature": 0.25,
    "top_p": 0.5,
    "n": 2,
    "best_of": 3,
    "stop": ["END"],
    "seed": 7,
    "echo": True,
    "suffix": "!",
    "logprobs": 2,
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "logit_bias": {"50256": -100.0},
    "user": "u-1",
}
PROVIDERS = [p.name for p in builtin_providers()]
COMPLETION_PROVIDERS = [p.name for p in builtin_providers() if p.completions is not None]


def test_the_samples_cover_every_parameter() -> None:
    assert set(CHAT_SAMPLES) == set(rill.GenerationParams.__annotations__)
    assert set(COMPLETION_SAMPLES) == set(rill.CompletionParams.__annotations__)


@pytest.fixture(autouse=True)
def _vertex_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")


def _chat_body(provider: str, **params: Any) -> dict[str, Any]:
    options = {"model": f"{provider}/model-x", "base_url": LOCAL, "api_key": "k", **params}
    body: dict[str, Any] = orjson.loads(prepare_request("Hi", options).http.body)
    return body


def _completion_body(provider: str, **params: Any) -> dict[str, Any]:
    options = {"model": f"{provider}/model-x", "base_url": LOCAL, "api_key": "k", **params}
    body: dict[str, Any] = orjson.loads(prepare_completion("Hi", options).http.body)
    return body


def _sent_or_refused(build: Any, provider: str, name: str, value: Any, **base: Any) -> str:
    """Whether the parameter is "sent" (the body changes with it) or "refused" (the call
    raises naming the provider and the parameter or, for ``tool_choice``, the
    tools it needs); fails otherwise."""
    try:
        with_it = build(provider, **base, **{name: value})
    except rill.InvalidRequestError as exc:
        refusal = str(exc)
    else:
        assert with_it != build(provider, **base), f"{provider} dropped {name}={value!r} silently"
        return "sent"
    assert provider in refusal and any(n in refusal for n in (name, *base)), refusal
    return "refused"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("name", list(CHAT_SAMPLES))
def test_each_chat_parameter_is_sent_or_refused_naming_the_provider(
    provider: str, name: str
) -> None:
    # tool_choice needs tools to choose from, in both bodies.
    base = {"tools": [TOOL]} if name == "tool_choice" else {}
    _sent_or_refused(_chat_body, provider, name, CHAT_SAMPLES[name], **base)


@pytest.mark.parametrize("provider", COMPLETION_PROVIDERS)
@pytest.mark.parametrize("name", list(COMPLETION_SAMPLES))
def test_each_completion_parameter_is_sent_or_refused_naming_the_provider(
    provider: str, name: str
) -> None:
    _sent_or_refused(_completion_body, provider, name, COMPLETION_SAMPLES[name])


def test_what_is_refused_where() -> None:
    """The walk's outcome for the native formats, so that a declaration that
    changes what a provider accepts shows up here."""
    refused = {
        provider: sorted(
            name
            for name, value in CHAT_SAMPLES.items()
            if name not in ("tools", "tool_choice")
            and _sent_or_refused(_chat_body, provider, name, value) == "refused"
        )
        for provider in ("openai", "openai-responses", "anthropic", "gemini", "cohere", "ollama")
    }
    assert refused == {
        "openai": [],
        "openai-responses": ["frequency_penalty", "n", "presence_penalty", "seed", "stop"],
        "anthropic": [
            "frequency_penalty",
            "logprobs",
            "n",
            "presence_penalty",
            "seed",
            "top_logprobs",
        ],
        "gemini": ["parallel_tool_calls", "user"],
        "cohere": ["n", "parallel_tool_calls", "top_logprobs", "user"],
        "ollama": ["n", "parallel_tool_calls", "user"],
    }


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("anthropic/claude-sonnet-4-5", {"seed": 1}),
        ("openai-responses/gpt-5", {"stop": "x"}),
        ("gemini/gemini-2.5-flash", {"user": "u"}),
        ("cohere/command-a", {"n": 2}),
        ("ollama/llama3", {"parallel_tool_calls": False}),
    ],
)
def test_a_refused_parameter_raises_at_the_call_not_at_the_first_read(
    model: str, params: dict[str, Any]
) -> None:
    name = next(iter(params))
    provider = model.partition("/")[0]
    for fn in (rill.generate_stream, rill.agenerate_stream):
        with pytest.raises(rill.InvalidRequestError, match=f"'{provider}'.*{name}"):
            fn("Hi", model=model, base_url=LOCAL, api_key="k", **params)


def test_a_refused_completion_parameter_raises_at_the_call() -> None:
    for fn in (rill.complete_stream, rill.acomplete_stream):
        with pytest.raises(rill.InvalidRequestError, match=r"'ollama'.*'echo'"):
            fn("Hi", model="ollama/llama3", base_url=LOCAL, echo=True)


def test_an_undeclared_parameter_is_refused_with_the_escape_hatch() -> None:
    """A codec whose declaration lacks a parameter refuses it (nothing is
    dropped), names the provider and points to ``extra_body``."""
    codec = OpenAIChatCodec()
    codec.supported_params = {k: v for k, v in codec.supported_params.items() if k != "seed"}
    call = Call(model="m", messages=(), params=Params(seed=3), provider="acme")
    with pytest.raises(rill.InvalidRequestError, match=r"'acme'.*'seed'.*extra_body="):
        render_params(codec, call, {})
    provider = Provider("acme", codec, LOCAL, key_required=False)
    with pytest.raises(rill.InvalidRequestError, match=r"'acme'.*'seed'"):
        provider.build_request(call, base_url=None, api_key=None)


def test_no_op_values_are_accepted_where_the_parameter_is_refused() -> None:
    """n=1, parallel_tool_calls=True, logprobs=False and zero penalties ask
    for nothing, so code written for OpenAI runs unchanged."""
    no_ops = {"n": 1, "parallel_tool_calls": True}
    assert _chat_body("cohere", **no_ops) == _chat_body("cohere")
    assert _chat_body("ollama", **no_ops) == _chat_body("ollama")
    assert _chat_body("openai-responses", n=1) == _chat_body("openai-responses")
    anthropic = {"n": 1, "logprobs": False, "top_logprobs": 0, "presence_penalty": 0}
    assert _chat_body("anthropic", **anthropic) == _chat_body("anthropic")


def test_params_fields_are_the_declared_names() -> None:
    assert list(Params.__dataclass_fields__) == list(get_args(ParamName))
    assert Params(n=2) == Params(n=2) and Call(model="m", messages=()).n == 1
