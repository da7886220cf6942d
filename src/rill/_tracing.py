"""OpenTelemetry spans for calls, after the GenAI semantic conventions.

One CLIENT span per call, named ``{gen_ai.operation.name} {gen_ai.request.model}``
(``chat gpt-4o-mini``), covering every attempt: request attributes when it
starts; the answering model, response id, finish reasons and usage when it
ends; ``rill.*`` attributes for what the conventions do not name (time to
first token, attempts, cache hit, cost); a ``rill.retry`` or
``rill.fallback`` event for each retry and fallback; ``error.type`` and an
error status when the call fails. The span's parent is the context current
where the call was made, so it nests under the caller's span in async code,
threads of a batch and tasks alike.

Only ``opentelemetry-api`` is needed (the ``rill[otel]`` extra); it is
imported on the first traced call. Prompts and outputs are not recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from ._errors import RemoteError
    from ._request import PreparedRequest
    from ._response import GenerationResponse

__all__ = ["CallSpan", "tracing_available"]

# rill's provider names -> the conventions' well-known gen_ai.provider.name values.
_PROVIDER_NAMES: Mapping[str, str] = {
    "openai-responses": "openai",
    "azure": "azure.ai.openai",
    "gemini": "gcp.gemini",
    "vertex": "gcp.vertex_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
}
# Request parameters with a conventions attribute.
_PARAMS: Mapping[str, str] = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "n": "gen_ai.request.choice.count",
}


def tracing_available() -> bool:
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def _tracer() -> Tracer:
    from opentelemetry import trace

    from . import __version__

    return trace.get_tracer("rill", __version__)


def _request_attributes(request: PreparedRequest) -> dict[str, Any]:
    provider = request.provider.name
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _PROVIDER_NAMES.get(provider, provider),
        "gen_ai.system": _PROVIDER_NAMES.get(provider, provider),
        "gen_ai.request.model": request.call.model,
        "rill.provider": provider,
    }
    for name, key in _PARAMS.items():
        value = getattr(request.call.params, name)
        if value is not None:
            attributes[key] = value
    stop = request.call.params.stop
    if stop is not None:
        attributes["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else stop
    from urllib.parse import urlsplit

    url = urlsplit(request.http.url)
    if url.hostname:
        attributes["server.address"] = url.hostname
        attributes["server.port"] = url.port or (443 if url.scheme == "https" else 80)
    return attributes


class CallSpan:
    """The span of one call, started on its first attempt."""

    __slots__ = ("_parent", "_span")

    def __init__(self) -> None:
        from opentelemetry import context

        # The caller's context, captured where the call was made.
        self._parent: Context = context.get_current()
        self._span: Span | None = None

    def start(self, request: PreparedRequest) -> None:
        if self._span is not None:
            return
        from opentelemetry.trace import SpanKind

        self._span = _tracer().start_span(
            f"chat {request.call.model}",
            context=self._parent,
            kind=SpanKind.CLIENT,
            attributes=_request_attributes(request),
        )

    def retry(self, error: RemoteError, delay: float, attempt: int) -> None:
        if self._span is not None:
            self._span.add_event(
                "rill.retry",
                {"error.type": type(error).__name__, "rill.delay": delay, "rill.attempt": attempt},
            )

    def fallback(self, error: RemoteError, failed: PreparedRequest, to: PreparedRequest) -> None:
        if self._span is not None:
            self._span.add_event(
                "rill.fallback",
                {
                    "error.type": type(error).__name__,
                    "rill.from_model": f"{failed.provider.name}/{failed.call.model}",
                    "rill.to_model": f"{to.provider.name}/{to.call.model}",
                },
            )

    def finish(self, response: GenerationResponse) -> None:
        span = self._span
        if span is None:
            return
        usage = response.usage
        reasons = [c.finish_reason for c in response.choices if c.finish_reason]
        attributes: dict[str, Any] = {
            "gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "gen_ai.response.finish_reasons": reasons or [response.finish_reason or ""],
            "rill.attempts": response.attempts,
            "rill.cache_hit": response.cached,
            "rill.usage_estimated": usage.estimated,
        }
        if usage.cached_tokens:
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
        if usage.reasoning_tokens:
            attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
        if response.model:
            attributes["gen_ai.response.model"] = response.model
        if response.id:
            attributes["gen_ai.response.id"] = response.id
        if response.timing.ttft is not None:
            attributes["rill.ttft"] = response.timing.ttft
        cost = response.cost
        if cost is not None:
            attributes["rill.cost"] = cost.total
        span.set_attributes(attributes)

    def end(self, outcome: BaseException | None, attempts: int) -> None:
        span = self._span
        if span is None:
            return
        self._span = None
        from opentelemetry.trace import Status, StatusCode

        if outcome is None:
            span.end()
            return
        span.set_attribute("rill.attempts", attempts)
        if isinstance(outcome, GeneratorExit):  # the caller stopped reading
            span.set_attribute("rill.interrupted", True)
        elif isinstance(outcome, Exception):
            span.set_attribute("error.type", type(outcome).__name__)
            span.set_status(Status(StatusCode.ERROR, str(outcome)))
        else:  # cancelled
            span.set_attribute("rill.interrupted", True)
        span.end()
