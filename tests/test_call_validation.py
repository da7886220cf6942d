"""Misconfiguration raises at the call, before any I/O, with a typed error."""

from __future__ import annotations

from typing import Any

import pytest

import rill
from rill import (
    InvalidModelError,
    InvalidRequestError,
    Message,
    MessageRole,
    MissingAPIKeyError,
    ModelName,
    UnknownProviderError,
)

# Port 9 (discard) on loopback: nothing is ever sent because every case fails first.
LOCAL = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize("fn", [rill.generate_stream, rill.agenerate_stream])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "nosuch/model"}, UnknownProviderError, "unknown provider 'nosuch'"),
        ({"model": "openai/"}, InvalidModelError, "malformed"),
        ({"model": "/gpt-4o"}, InvalidModelError, "malformed"),
        ({"model": ""}, InvalidModelError, "malformed"),
        ({"model": "some-local-model"}, InvalidModelError, "provider/some-local-model"),
        ({"model": "openai/gpt-4o-mini"}, MissingAPIKeyError, "OPENAI_API_KEY"),
        ({"model": "groq/llama-3.3-70b-versatile"}, MissingAPIKeyError, "GROQ_API_KEY"),
        ({"model": "vllm/m", "base_url": LOCAL, "n": 0}, InvalidRequestError, "n must be"),
        (
            {"model": "vllm/m", "base_url": LOCAL, "temprature": 1},
            InvalidRequestError,
            "extra_body",
        ),
        (
            {"model": "vllm/m", "base_url": LOCAL, "temperature": "hot"},
            InvalidRequestError,
            "float",
        ),
        (
            {"model": "vllm/m", "base_url": LOCAL, "max_tokens": 0},
            InvalidRequestError,
            "max_tokens",
        ),
        ({"model": "vllm/m", "base_url": LOCAL, "max_retries": -1}, InvalidRequestError, "retries"),
        ({"model": "vllm/m", "base_url": LOCAL, "timeout": -1}, InvalidRequestError, "timeout"),
        ({"model": "azure/dep", "api_key": "k"}, rill.ConfigurationError, "AZURE_OPENAI_ENDPOINT"),
    ],
)
def test_misconfiguration_raises_at_the_call(
    fn: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        fn("Hi", **kwargs)


@pytest.mark.parametrize(
    ("prompt", "match"),
    [
        ([], "must not be empty"),
        ([{"role": "wizard", "content": "x"}], "unknown message role 'wizard'"),
        ([{"content": "x"}], "has no 'role'"),
        ([{"role": "user", "content": "x", "colour": "red"}], "unknown keys"),
        ([42], "must be a Message or a dict"),
        (42, "must be a string or a list"),
    ],
)
def test_bad_messages(prompt: Any, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        rill.generate_stream(prompt, model="vllm/m", base_url=LOCAL)


def test_message_role_validated_on_construction() -> None:
    with pytest.raises(InvalidRequestError):
        Message(role="wizard", content="x")  # type: ignore[arg-type]
    assert Message(role="user", content="x").role is MessageRole.USER  # type: ignore[arg-type]


def test_model_name_and_bare_names_resolve() -> None:
    from rill.providers import resolve_model

    provider, model = resolve_model(ModelName.GPT_4O_MINI)
    assert (provider.name, model) == ("openai", "gpt-4o-mini")
    provider, model = resolve_model("gpt-4o-mini")
    assert (provider.name, model) == ("openai", "gpt-4o-mini")
    provider, model = resolve_model("vllm/meta-llama/Llama-3.1-8B-Instruct")
    assert (provider.name, model) == ("vllm", "meta-llama/Llama-3.1-8B-Instruct")


def test_missing_key_message_names_the_variable_not_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingAPIKeyError) as info:
        rill.generate_stream("Hi", model="deepseek/deepseek-reasoner")
    assert "DEEPSEEK_API_KEY" in str(info.value)


def test_env_key_and_base_url_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from rill._request import prepare_request

    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1234/v1/")
    request = prepare_request("Hi", {"model": "openai/gpt-4o-mini", "max_tokens": 5})
    assert request.http.url == "http://127.0.0.1:1234/v1/chat/completions"
    assert request.http.headers["authorization"] == "Bearer sk-env-secret"
    assert "sk-env-secret" not in repr(request)
    import orjson

    body = orjson.loads(request.http.body)
    assert body["max_completion_tokens"] == 5
    assert body["stream_options"] == {"include_usage": True}


def test_azure_deployment_url_and_api_key_header(monkeypatch: pytest.MonkeyPatch) -> None:
    from rill._request import prepare_request

    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-secret")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.example.test")
    request = prepare_request("Hi", {"model": "azure/my-deploy"})
    assert request.http.url.startswith(
        "https://res.example.test/openai/deployments/my-deploy/chat/completions?api-version="
    )
    assert request.http.headers["api-key"] == "az-secret"
    assert "authorization" not in request.http.headers


def test_mistral_does_not_send_stream_options() -> None:
    import orjson

    from rill._request import prepare_request

    request = prepare_request("Hi", {"model": "mistral/mistral-tiny", "api_key": "k"})
    assert "stream_options" not in orjson.loads(request.http.body)


def test_third_party_provider_can_be_registered() -> None:
    from rill.providers import OpenAIChatCodec, get_provider

    rill.register_provider(
        rill.Provider("acme-test", OpenAIChatCodec(), "http://127.0.0.1:9/v1", key_required=False)
    )
    assert get_provider("acme-test").name == "acme-test"
    with pytest.raises(ValueError, match="already registered"):
        rill.register_provider(rill.Provider("acme-test", OpenAIChatCodec(), "http://x"))


def test_extra_body_and_common_params_reach_the_body() -> None:
    import orjson

    from rill._request import prepare_request

    request = prepare_request(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
        {
            "model": "vllm/m",
            "temperature": 0.2,
            "stop": ("a", "b"),
            "n": 2,
            "seed": 1,
            "extra_body": {"top_k": 5},
        },
    )
    body = orjson.loads(request.http.body)
    assert body["top_k"] == 5
    assert body["stop"] == ["a", "b"]
    assert body["n"] == 2
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
