"""Cost from the shipped price table: figures for recorded usages, cached
and reasoning tokens, snapshots, unknown models, overrides, the tracker."""

from __future__ import annotations

import json
from importlib import resources

import pytest

import rill
from rill import GenerationResponse, ModelName, Usage
from rill._cost import default_prices
from rill.testing import Emulator, Script


def response(provider: str, model: str, usage: Usage) -> GenerationResponse:
    return GenerationResponse(provider=provider, model=model, usage=usage)


def test_plain_usage() -> None:
    # gpt-4o-mini: $0.15 in, $0.60 out per million
    cost = response("openai", "gpt-4o-mini", Usage(1000, 500, 1500)).cost
    assert cost is not None
    assert cost.input == pytest.approx(0.00015)
    assert cost.output == pytest.approx(0.0003)
    assert cost.total == pytest.approx(0.00045)
    assert cost.model == "openai/gpt-4o-mini" and cost.prices_as_of == default_prices().as_of


def test_cached_input_tokens_at_the_cached_price() -> None:
    # claude-sonnet-4-5: $3 in, $0.30 cache read, $15 out; 10k prompt of which 8k cached
    usage = Usage(
        prompt_tokens=10_000, completion_tokens=1_000, total_tokens=11_000, cached_tokens=8_000
    )
    cost = response("anthropic", "claude-sonnet-4-5-20250929", usage).cost
    assert cost is not None
    assert cost.input == pytest.approx(2_000 * 3 / 1e6)
    assert cost.cached_input == pytest.approx(8_000 * 0.3 / 1e6)
    assert cost.output == pytest.approx(1_000 * 15 / 1e6)
    assert cost.total == pytest.approx(0.006 + 0.0024 + 0.015)


def test_reasoning_tokens_are_output_unless_priced_apart() -> None:
    usage = Usage(
        prompt_tokens=100, completion_tokens=2_000, total_tokens=2_100, reasoning_tokens=1_500
    )
    cost = response("openai", "o4-mini", usage).cost  # $1.10 in, $4.40 out
    assert cost is not None
    assert cost.reasoning == pytest.approx(1_500 * 4.4 / 1e6)
    assert cost.output == pytest.approx(500 * 4.4 / 1e6)
    table = default_prices().with_overrides(
        {"openai/thinker": rill.Price(input=1.0, output=2.0, reasoning=8.0)}
    )
    r = response("openai", "thinker", usage)
    r.prices = table
    assert r.cost is not None and r.cost.reasoning == pytest.approx(1_500 * 8 / 1e6)


def test_unknown_model_is_none_with_a_reason() -> None:
    r = response("openai", "gpt-imaginary-7", Usage(10, 10, 20))
    assert r.cost is None
    assert r.cost_reason is not None and "openai/gpt-imaginary-7" in r.cost_reason
    # a look-alike is not priced as its prefix
    assert response("openai", "gpt-4o-audio-preview", Usage(1, 1, 2)).cost is None
    # no cached price for a model with cached tokens: no cost rather than a guess
    r = response("groq", "llama-3.1-8b-instant", Usage(10, 10, 20, cached_tokens=5))
    assert r.cost is None and "cached-input" in (r.cost_reason or "")
    assert response("openai", None, Usage()).cost_reason  # type: ignore[arg-type]


def test_snapshots_and_local_models() -> None:
    assert response("openai", "gpt-4o-mini-2024-07-18", Usage(1, 1, 2)).cost is not None
    assert response("gemini", "gemini-2.0-flash-001", Usage(1, 1, 2)).cost is not None
    local = response("ollama", "llama3.2", Usage(100, 100, 200)).cost
    assert local is not None and local.total == 0.0


def test_the_table_prices_the_model_names_it_can() -> None:
    data = json.loads(resources.files("rill").joinpath("_prices.json").read_text())
    assert data["as_of"] and data["currency"] == "USD"
    priced = [m for m in ModelName if default_prices().lookup(*m.value.split("/", 1))]
    # every ModelName is priced except those whose price was not published
    # when the table was dated
    assert len(priced) >= len(ModelName) - 5
    for provider in ("openai", "anthropic", "gemini", "deepseek", "groq", "mistral", "xai"):
        assert any(k.startswith(provider + "/") for k in data["models"])


def test_client_overrides_and_tracker(rill_emulator: Emulator) -> None:
    c = rill.Client(
        api_keys={"openai": "sk-test"},
        base_urls={"openai": rill_emulator.base_url},
        prices={"openai/my-finetune": {"input": 1.0, "output": 2.0}},
        tracing=False,
    )
    rill_emulator.enqueue(
        Script.of_text("a b c", usage=(1000, 100)),
        Script.of_text("a b c", usage=(2000, 200, 0, 1000)),
        Script.of_text("a b c", usage=(10, 10)),
    )
    first = c.generate("Hi", model="openai/my-finetune")
    second = c.generate("Hi", model="openai/gpt-4o-mini")
    third = c.generate("Hi", model="openai/unknown-model")
    assert first.cost is not None and first.cost.total == pytest.approx((1000 * 1 + 100 * 2) / 1e6)
    assert second.cost is not None
    assert second.cost.total == pytest.approx((1000 * 0.15 + 1000 * 0.075 + 200 * 0.6) / 1e6)
    assert third.cost is None
    assert c.costs.total == pytest.approx(first.cost.total + second.cost.total)
    assert c.costs.by_model == {
        "openai/my-finetune": pytest.approx(first.cost.total),
        "openai/gpt-4o-mini": pytest.approx(second.cost.total),
    }
    assert (c.costs.calls, c.costs.unpriced) == (3, 1)
    c.costs.reset()
    assert (c.costs.total, c.costs.by_model, c.costs.calls) == (0.0, {}, 0)
    with pytest.raises(ValueError, match="provider/model"):
        rill.Client(prices={"gpt-4o": {"input": 1.0, "output": 1.0}})


def test_module_level_responses_are_priced(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text("a b", usage=(100, 10)))
    response = rill.generate(
        "Hi", model="openai/gpt-4o", api_key="sk-test", base_url=rill_emulator.base_url
    )
    assert response.cost is not None
    assert response.cost.total == pytest.approx((100 * 2.5 + 10 * 10.0) / 1e6)


def test_dated_claude_4_snapshots_are_priced() -> None:
    from rill._cost import default_prices

    prices = default_prices()
    assert prices.lookup("anthropic", "claude-opus-4-20250514") == prices.lookup(
        "anthropic", "claude-opus-4-0"
    )
    assert prices.lookup("anthropic", "claude-sonnet-4-20250514") is not None
