"""Token counts in OpenAI's two shapes, read by one function.

Chat and text completions say ``prompt_tokens`` / ``completion_tokens`` with
``*_tokens_details``; the Responses API says ``input_tokens`` /
``output_tokens`` with ``*_tokens_details``. The structure is the same, so
the names are data and the reading is written once. (Anthropic, Gemini,
Cohere and Ollama count in structures of their own, read by their codecs.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._response import Usage

__all__ = ["CHAT_USAGE", "RESPONSES_USAGE", "UsageNames", "read_usage"]


@dataclass(frozen=True, slots=True)
class UsageNames:
    prompt: str
    completion: str

    @property
    def prompt_details(self) -> str:
        return self.prompt + "_details"

    @property
    def completion_details(self) -> str:
        return self.completion + "_details"


CHAT_USAGE = UsageNames("prompt_tokens", "completion_tokens")
RESPONSES_USAGE = UsageNames("input_tokens", "output_tokens")


def read_usage(raw: object, names: UsageNames) -> Usage | None:
    """``raw`` (a ``usage`` object) as ``Usage``; None when it is not one.

    A missing total is the sum; cached prompt tokens are also found under
    DeepSeek's ``prompt_cache_hit_tokens``."""
    if not isinstance(raw, dict):
        return None
    prompt = raw.get(names.prompt) or 0
    completion = raw.get(names.completion) or 0
    completion_details: dict[str, Any] = raw.get(names.completion_details) or {}
    prompt_details: dict[str, Any] = raw.get(names.prompt_details) or {}
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=raw.get("total_tokens") or prompt + completion,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
        cached_tokens=prompt_details.get("cached_tokens")
        or raw.get("prompt_cache_hit_tokens")
        or 0,
    )
