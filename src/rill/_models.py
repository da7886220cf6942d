"""Well-known model names, so callers can write ``ModelName.GPT_4O_MINI`` or a
bare ``"gpt-4o-mini"`` when the provider is unambiguous."""

from __future__ import annotations

import enum

__all__ = ["ModelName", "bare_model_provider"]


class ModelName(enum.StrEnum):
    """Current models of the major providers, as ``"provider/model"`` strings."""

    # OpenAI
    GPT_4O = "openai/gpt-4o"
    GPT_4O_MINI = "openai/gpt-4o-mini"
    GPT_4_1 = "openai/gpt-4.1"
    GPT_4_1_MINI = "openai/gpt-4.1-mini"
    GPT_4_1_NANO = "openai/gpt-4.1-nano"
    GPT_5 = "openai/gpt-5"
    GPT_5_MINI = "openai/gpt-5-mini"
    GPT_5_NANO = "openai/gpt-5-nano"
    GPT_5_5 = "openai/gpt-5.5"
    O3 = "openai/o3"
    O3_MINI = "openai/o3-mini"
    O4_MINI = "openai/o4-mini"
    # Anthropic
    CLAUDE_OPUS_4_6 = "anthropic/claude-opus-4-6"
    CLAUDE_OPUS_4_1 = "anthropic/claude-opus-4-1"
    CLAUDE_SONNET_4_6 = "anthropic/claude-sonnet-4-6"
    CLAUDE_SONNET_4_5 = "anthropic/claude-sonnet-4-5"
    CLAUDE_SONNET_4 = "anthropic/claude-sonnet-4-0"
    CLAUDE_HAIKU_4_5 = "anthropic/claude-haiku-4-5"
    CLAUDE_3_5_HAIKU = "anthropic/claude-3-5-haiku-latest"
    # Google
    GEMINI_3_PRO = "gemini/gemini-3-pro-preview"
    GEMINI_3_FLASH = "gemini/gemini-3-flash-preview"
    GEMINI_2_5_PRO = "gemini/gemini-2.5-pro"
    GEMINI_2_5_FLASH = "gemini/gemini-2.5-flash"
    GEMINI_2_5_FLASH_LITE = "gemini/gemini-2.5-flash-lite"
    GEMINI_2_0_FLASH = "gemini/gemini-2.0-flash"


_BY_BARE_NAME = {m.value.partition("/")[2]: m.value.partition("/")[0] for m in ModelName}
# Families whose provider is unambiguous even for names not listed above.
_PREFIXES = (
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
)


def bare_model_provider(model: str) -> str | None:
    """The provider of a bare model name, or None when it is not unambiguous."""
    provider = _BY_BARE_NAME.get(model)
    if provider is not None:
        return provider
    for prefix, name in _PREFIXES:
        if model.startswith(prefix):
            return name
    return None
