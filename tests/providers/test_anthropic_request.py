"""Anthropic request bodies: system placement, role merging, tools and
tool_choice, tool results, the reasoning round-trip, parameter mapping, and
the parameters rejected at the call."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import rill
from rill import InvalidRequestError, Message, MessageRole, ToolCall
from rill._params import Params
from rill._tools import ToolSpec
from rill.providers import Call, get_provider
from rill.providers._anthropic_request import supports_adaptive_thinking

PROVIDER = get_provider("anthropic")
LOCAL = "http://127.0.0.1:9"  # nothing is sent: every case fails or is built first
WEATHER = ToolSpec(
    "get_weather",
    "Weather at a place",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def body(*messages: Message, model: str = "claude-sonnet-4-5", **kw: Any) -> dict[str, Any]:
    params = kw.pop("params", {})
    return PROVIDER.codec.build_body(
        Call(model=model, messages=messages or (user("Hi"),), params=Params(**params), **kw)
    )


def user(text: Any) -> Message:
    return Message(MessageRole.USER, text)


def test_the_endpoint_and_its_headers() -> None:
    call = Call(model="claude-haiku-4-5", messages=(user("Hi"),))
    request = PROVIDER.build_request(call, base_url=None, api_key="sk-ant-secret")
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-secret"
    assert "authorization" not in request.headers
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "sk-ant-secret" not in repr(request)
    sent = orjson.loads(request.body)
    assert sent == {
        "model": "claude-haiku-4-5",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "max_tokens": 4096,
    }
    beta = PROVIDER.build_request(
        call, base_url=None, api_key="k", extra_headers={"Anthropic-Beta": "x-2025"}
    )
    assert beta.headers["anthropic-beta"] == "x-2025"


def test_base_url_from_the_environment_with_or_without_v1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call = Call(model="m", messages=(user("Hi"),))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://proxy.local/")
    assert PROVIDER.build_request(call, base_url=None, api_key=None).url == (
        "http://proxy.local/v1/messages"
    )
    request = PROVIDER.build_request(call, base_url="http://h:1/v1", api_key=None)
    assert request.url == "http://h:1/v1/messages"
    assert request.headers["x-api-key"] == "k"


def test_a_missing_key_names_the_variable() -> None:
    with pytest.raises(rill.MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        rill.generate_stream("Hi", model="anthropic/claude-haiku-4-5")


def test_system_and_developer_messages_are_lifted_out() -> None:
    one = body(Message(MessageRole.SYSTEM, "Be brief."), user("Hi"))
    assert one["system"] == "Be brief."
    assert one["messages"] == [{"role": "user", "content": "Hi"}]
    several = body(
        Message(MessageRole.SYSTEM, "Be brief."),
        user("Hi"),
        Message(
            MessageRole.DEVELOPER, [{"type": "text", "text": "No emoji.", "cache_control": {}}]
        ),
    )
    assert several["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "No emoji.", "cache_control": {}},
    ]
    assert several["messages"] == [{"role": "user", "content": "Hi"}]


def test_consecutive_messages_of_one_role_are_merged() -> None:
    sent = body(
        user("one"),
        user([{"type": "text", "text": "two"}]),
        Message(MessageRole.ASSISTANT, "three"),
        Message(MessageRole.ASSISTANT, "four"),
        user("five"),
    )
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}],
        },
        {"role": "user", "content": "five"},
    ]


def test_openai_image_parts_become_image_blocks() -> None:
    sent = body(
        user(
            [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                {"type": "document", "source": {"type": "text", "data": "kept as given"}},
            ]
        )
    )
    assert sent["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        {"type": "document", "source": {"type": "text", "data": "kept as given"}},
    ]


def test_tools_and_tool_choice() -> None:
    sent = body(tools=(WEATHER,), tool_choice="required")
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather at a place",
            "input_schema": WEATHER.schema,
        }
    ]
    assert sent["tool_choice"] == {"type": "any"}
    assert body(tools=(WEATHER,), tool_choice="auto")["tool_choice"] == {"type": "auto"}
    assert body(tools=(WEATHER,), tool_choice="none")["tool_choice"] == {"type": "none"}
    named = body(tools=(WEATHER,), tool_choice="get_weather", params={"parallel_tool_calls": False})
    assert named["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    serial = body(tools=(WEATHER,), params={"parallel_tool_calls": False})
    assert serial["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert "tool_choice" not in body(tools=(WEATHER,))
    strict = body(tools=(ToolSpec("f", "", None, strict=True),))
    assert strict["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}, "strict": True}
    ]


def test_server_tools_from_extra_body_are_added_to_the_tools() -> None:
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    sent = body(tools=(WEATHER,), extra_body={"tools": [search]})
    assert [t["name"] for t in sent["tools"]] == ["get_weather", "web_search"]
    assert sent["tools"][1] == search
    assert body(extra_body={"tools": [search]})["tools"] == [search]


def test_tool_calls_and_results_make_a_valid_conversation() -> None:
    calls = [
        ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Paris"}'),
        {
            "id": "toolu_2",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
        },
    ]
    sent = body(
        user("Weather in Paris and Rome?"),
        Message(MessageRole.ASSISTANT, "Checking.", tool_calls=calls),
        Message(MessageRole.TOOL, "18C", tool_call_id="toolu_1"),
        Message(MessageRole.TOOL, [{"type": "text", "text": "22C"}], tool_call_id="toolu_2"),
        user("And tomorrow?"),
    )
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "22C"}],
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]


def test_a_tool_call_without_text_or_arguments() -> None:
    sent = body(
        user("Go"),
        Message(MessageRole.ASSISTANT, "", tool_calls=[ToolCall(id="t", name="go")]),
        Message(MessageRole.TOOL, "", tool_call_id="t"),
    )
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t", "name": "go", "input": {}}
    ]
    assert sent["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "t"}]


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (Message(MessageRole.TOOL, "18C"), "tool_call_id"),
        (
            Message(
                MessageRole.ASSISTANT, "", tool_calls=[ToolCall(id="t", name="f", arguments='{"a')]
            ),
            "not JSON",
        ),
        (
            Message(
                MessageRole.ASSISTANT, "", tool_calls=[ToolCall(id="t", name="f", arguments="[1]")]
            ),
            "JSON object",
        ),
        (Message(MessageRole.ASSISTANT, "", tool_calls=["nonsense"]), "cannot read a tool call"),
    ],
)
def test_unusable_messages_are_rejected(message: Message, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        body(user("x"), message)


def test_reasoning_is_sent_back_signed_first() -> None:
    assistant = Message(
        MessageRole.ASSISTANT,
        "Done.",
        tool_calls=[ToolCall(id="t", name="f", arguments="{}")],
        reasoning="Let me think.",
        reasoning_signature="sig",
        items=[{"type": "redacted_thinking", "data": "opaque"}],
    )
    [_, sent] = body(user("x"), assistant)["messages"]
    assert sent["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Done."},
        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
    ]


def test_thinking_kept_in_items_wins_and_keeps_its_order() -> None:
    first = {"type": "thinking", "thinking": "A", "signature": "s1"}
    second = {"type": "thinking", "thinking": "B", "signature": "s2"}
    search = {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {"q": 1}}
    result = {"type": "web_search_tool_result", "tool_use_id": "srv", "content": []}
    cited = {"type": "text", "text": "cited", "citations": [{"type": "char_location"}]}
    assistant = Message(
        MessageRole.ASSISTANT,
        "cited answer",
        reasoning="AB",
        reasoning_signature="s2",
        items=[first, search, result, second, cited],
    )
    [_, sent] = body(user("x"), assistant)["messages"]
    assert sent["content"] == [
        first,
        search,
        result,
        second,
        {"type": "text", "text": "cited answer"},  # cited blocks stay in items only
    ]


def test_unsigned_reasoning_is_not_sent() -> None:
    assistant = Message(MessageRole.ASSISTANT, "Hi.", reasoning="from another provider")
    assert body(user("x"), assistant)["messages"][1] == {"role": "assistant", "content": "Hi."}


def test_parameters_are_mapped() -> None:
    sent = body(
        params={
            "temperature": 0.5,
            "top_p": 0.9,
            "max_tokens": 100,
            "stop": "END",
            "user": "u-1",
            "n": 1,
            "logprobs": False,
            "top_logprobs": 0,
            "presence_penalty": 0,
            "frequency_penalty": 0.0,
        },
        stream=False,
    )
    assert sent == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 100,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
    }
    assert body(params={"stop": ["a", "b"]})["stop_sequences"] == ["a", "b"]


@pytest.mark.parametrize(
    ("effort", "thinking", "max_tokens"),
    [
        ("low", {"type": "enabled", "budget_tokens": 2048}, 2048 + 4096),
        ("medium", {"type": "enabled", "budget_tokens": 8192}, 8192 + 4096),
        ("high", {"type": "enabled", "budget_tokens": 16384}, 16384 + 4096),
        ("none", None, 4096),
    ],
)
def test_reasoning_effort_sets_a_thinking_budget(
    effort: str, thinking: dict[str, Any] | None, max_tokens: int
) -> None:
    sent = body(model="claude-sonnet-4-5", params={"reasoning_effort": effort})
    assert sent.get("thinking") == thinking
    assert sent["max_tokens"] == max_tokens
    assert "output_config" not in sent


def test_reasoning_effort_on_adaptive_models() -> None:
    sent = body(model="claude-opus-4-6", params={"reasoning_effort": "medium"})
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {"effort": "medium"}
    assert sent["max_tokens"] == 32000
    xhigh = body(model="claude-sonnet-4-6", params={"reasoning_effort": "xhigh"})
    assert xhigh["output_config"] == {"effort": "max"}


@pytest.mark.parametrize(
    ("model", "adaptive"),
    [
        ("claude-opus-4-6", True),
        ("claude-sonnet-4-6", True),
        ("claude-opus-4-7", True),
        ("claude-opus-5", True),
        ("claude-mythos-preview", True),
        ("claude-sonnet-4-5-20250929", False),
        ("claude-sonnet-4-20250514", False),
        ("claude-haiku-4-5", False),
        ("claude-3-7-sonnet-latest", False),
        ("claude-3-5-haiku-latest", False),
        ("some-other-model", False),
    ],
)
def test_which_models_think_adaptively(model: str, adaptive: bool) -> None:
    assert supports_adaptive_thinking(model) is adaptive


def test_a_thinking_budget_fits_under_an_explicit_max_tokens() -> None:
    sent = body(params={"reasoning_effort": "high", "max_tokens": 10000})
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 5000}
    assert sent["max_tokens"] == 10000
    assert body(params={"reasoning_effort": "low", "max_tokens": 10000})["thinking"] == {
        "type": "enabled",
        "budget_tokens": 2048,
    }
    with pytest.raises(InvalidRequestError, match="no room for thinking"):
        body(params={"reasoning_effort": "low", "max_tokens": 1000})


def test_thinking_from_extra_body_wins_and_sizes_max_tokens() -> None:
    thinking = {"type": "enabled", "budget_tokens": 3000, "display": "summarized"}
    sent = body(params={"reasoning_effort": "high"}, extra_body={"thinking": thinking})
    assert sent["thinking"] == thinking
    assert sent["max_tokens"] == 3000 + 4096
    adaptive = body(model="claude-opus-4-6", extra_body={"thinking": {"type": "adaptive"}})
    assert adaptive["max_tokens"] == 32000
    explicit = body(extra_body={"thinking": thinking, "max_tokens": 64000})
    assert explicit["max_tokens"] == 64000


def test_json_schema_response_format_is_a_structured_output() -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    sent = body(
        model="claude-opus-4-6",
        params={
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "ids", "schema": schema},
            },
            "reasoning_effort": "low",
        },
        extra_body={"output_config": {"extra": 1}},
    )
    assert sent["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": schema},
        "extra": 1,
    }
    assert "output_config" not in body(params={"response_format": {"type": "text"}})


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"n": 2},
            "provider .anthropic. does not support n=2: it returns one completion per request",
        ),
        ({"seed": 0}, "no seed"),
        ({"logprobs": True}, "log probabilities"),
        ({"top_logprobs": 3}, "log probabilities"),
        ({"presence_penalty": 0.5}, "presence penalty"),
        ({"frequency_penalty": -0.5}, "frequency penalty"),
        ({"response_format": {"type": "json_object"}}, "no JSON mode"),
        ({"response_format": {"type": "json_schema"}}, "schema"),
        ({"reasoning_effort": "extreme"}, "unknown reasoning_effort"),
    ],
)
@pytest.mark.parametrize("fn", [rill.generate_stream, rill.agenerate_stream])
def test_unsupported_parameters_are_rejected_at_the_call(
    fn: Any, params: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        fn("Hi", model="anthropic/claude-sonnet-4-5", base_url=LOCAL, api_key="k", **params)
