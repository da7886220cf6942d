"""OpenTelemetry spans after the GenAI semantic conventions, read back from
the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import rill
from rill.testing import Emulator, Script

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def client(emu: Emulator, **kw: Any) -> rill.Client:
    return rill.Client(
        api_keys={"openai": "sk-test-trace-0000", "anthropic": "sk-ant-trace-0000"},
        base_urls={"openai": emu.base_url, "anthropic": emu.url},
        tracing=True,
        **kw,
    )


def test_one_span_per_call_with_the_conventions_attributes(
    rill_emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    rill_emulator.enqueue(Script.of_text("Hello there", usage=(12, 5, 0, 4)))
    c = client(rill_emulator)
    response = c.generate("Hi", model="openai/gpt-4o-mini", temperature=0.5, max_tokens=20)
    (span,) = spans.get_finished_spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    a = dict(span.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.request.max_tokens"] == 20
    assert a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.id"] == response.id
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] == 12
    assert a["gen_ai.usage.output_tokens"] == 5
    assert a["gen_ai.usage.cache_read.input_tokens"] == 4
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == rill_emulator.port
    assert a["rill.attempts"] == 1 and a["rill.cache_hit"] is False
    assert a["rill.ttft"] == pytest.approx(response.timing.ttft)
    assert a["rill.cost"] == pytest.approx(response.cost.total if response.cost else -1)
    assert span.status.status_code is StatusCode.UNSET
    for value in a.values():
        assert "sk-test-trace" not in str(value)


def test_retry_and_fallback_events_and_cache_hit(
    rill_emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    c = client(
        rill_emulator,
        fallbacks=["anthropic/claude-haiku-4-5"],
        max_retries=1,
        cache=rill.MemoryCache(),
    )
    rill_emulator.enqueue(
        Script.of_status(429, headers={"retry-after": "0"}),
        Script.of_status(500, headers={"retry-after": "0"}),
        Script.of_text("from claude"),
    )
    c.generate("Hi", model="openai/gpt-4o-mini")
    (span,) = spans.get_finished_spans()
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert [name for name, _ in events] == ["rill.retry", "rill.fallback"]
    assert events[0][1]["error.type"] == "RateLimitError"
    assert events[1][1]["rill.from_model"] == "openai/gpt-4o-mini"
    assert events[1][1]["rill.to_model"] == "anthropic/claude-haiku-4-5"
    a = dict(span.attributes or {})
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.model"] == "claude-haiku-4-5"
    assert a["rill.attempts"] == 3
    spans.clear()
    # the fallback's answer is cached under its own request, not the first model's
    rill_emulator.enqueue(Script.of_text("again"))
    c.generate("Hi", model="anthropic/claude-haiku-4-5")
    (hit,) = spans.get_finished_spans()
    assert dict(hit.attributes or {})["rill.cache_hit"] is True


def test_errors_and_interruptions(rill_emulator: Emulator, spans: InMemorySpanExporter) -> None:
    c = client(rill_emulator, max_retries=0)
    rill_emulator.enqueue(Script.of_status(401))
    with pytest.raises(rill.AuthenticationError):
        c.generate("Hi", model="openai/gpt-4o-mini")
    rill_emulator.enqueue(Script.of_text("one two three four five six"))
    with c.generate_stream("Hi", model="openai/gpt-4o-mini") as stream:
        next(iter(stream))
    failed, stopped = spans.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "AuthenticationError"
    assert "sk-test-trace" not in (failed.status.description or "")
    assert dict(stopped.attributes or {})["rill.interrupted"] is True


async def test_spans_nest_under_the_callers_span_in_async_code_and_batches(
    rill_emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    c = client(rill_emulator, model="openai/gpt-4o-mini")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("parent") as parent:
        await c.agenerate("Hi")
        await c.agenerate_batch(["a", "b"], progress=False)
        c.generate_batch(["c", "d"], progress=False)  # threads, from inside a running loop
    finished = spans.get_finished_spans()
    children = [s for s in finished if s.name == "chat gpt-4o-mini"]
    assert len(children) == 5
    parent_id = parent.get_span_context().span_id
    assert all(s.parent is not None and s.parent.span_id == parent_id for s in children)


def test_tracing_off(rill_emulator: Emulator, spans: InMemorySpanExporter) -> None:
    rill.Client(
        api_keys={"openai": "k"}, base_urls={"openai": rill_emulator.base_url}, tracing=False
    ).generate("Hi", model="openai/gpt-4o-mini")
    rill.generate("Hi", model="openai/gpt-4o-mini", api_key="k", base_url=rill_emulator.base_url)
    assert spans.get_finished_spans() == ()
