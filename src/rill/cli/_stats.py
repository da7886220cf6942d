"""The ``--stats`` lines: time to first token, speed, usage and, when the
response knows it, cost."""

from __future__ import annotations

from .._response import GenerationResponse

__all__ = ["seconds", "stats_lines"]


def stats_lines(response: GenerationResponse) -> list[str]:
    usage, timing = response.usage, response.timing
    counted = "estimated" if usage.estimated else "reported"
    speed = (
        f", {timing.output_tokens_per_second:.0f} tokens/s"
        if timing.output_tokens_per_second
        else ""
    )
    lines = [
        f"first token {seconds(timing.ttft)}, total {seconds(timing.total)}, "
        f"{timing.chunks} chunks{speed}",
        f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
        f"= {usage.total_tokens} tokens ({counted})",
    ]
    if timing.gap_median is not None:
        lines.append(
            f"gaps between chunks: median {_ms(timing.gap_median)}, "
            f"p95 {_ms(timing.gap_p95)}, max {_ms(timing.gap_max)}"
        )
    # Cost is filled in by the pricing table where the model is known.
    cost = getattr(response, "cost", None)
    if cost is not None:
        lines.append(f"cost: {_money(cost)}")
    if response.finish_reason:
        lines.append(f"finish: {response.finish_reason}")
    return lines


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _money(cost: object) -> str:
    total = getattr(cost, "total", cost)
    currency = getattr(cost, "currency", "USD")
    if isinstance(total, int | float):
        # Fixed point: a call costs fractions of a cent, which "6.015e-05" hides.
        return f"{total:.6f} {currency}" if total else f"0 {currency}"
    return str(cost)
