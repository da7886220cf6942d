"""Token estimates for when a provider reports no usage.

rill never downloads anything at run time. tiktoken is used only when it is
installed *and* its encoding file is already in tiktoken's local cache (with
the expected checksum, so tiktoken will not try to fetch a fresh copy);
otherwise a documented heuristic is used: one token per four characters of
text, rounded up, which is the usual rule of thumb for English, plus four
tokens of framing per prompt message. Either way ``Usage.estimated`` is True.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Sequence
from typing import Any, Protocol

from ._messages import Message
from ._response import Usage

__all__ = [
    "HeuristicCounter",
    "TiktokenCounter",
    "TokenCounter",
    "estimate_usage",
    "local_tiktoken",
]

_MESSAGE_OVERHEAD = 4


class TokenCounter(Protocol):
    def count(self, text: str) -> int: ...


class HeuristicCounter:
    """``ceil(len(text) / 4)``: no vocabulary, no downloads."""

    name = "heuristic"

    def count(self, text: str) -> int:
        return (len(text) + 3) // 4


class TiktokenCounter:
    """Counts with a tiktoken ``Encoding`` the caller (or ``local_tiktoken``) built."""

    def __init__(self, encoding: Any) -> None:
        self.encoding = encoding
        self.name = f"tiktoken:{encoding.name}"

    def count(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=()))


def encoding_name(model: str | None) -> str:
    """The tiktoken encoding OpenAI uses for a model family."""
    name = (model or "").rpartition("/")[2]
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")):
        return "o200k_base"
    return "cl100k_base"


@functools.lru_cache(maxsize=8)
def local_tiktoken(encoding: str) -> TiktokenCounter | None:
    """A tiktoken counter if ``encoding`` can be loaded without the network."""
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError:
        return None
    constructor = getattr(openai_public, encoding, None)
    if constructor is None:
        return None
    # The constructor's constants hold the blob path (the cache key) and its
    # checksum; a file that is absent or does not match would make tiktoken
    # download, so only a verified cached file is used.
    strings = [c for c in constructor.__code__.co_consts if isinstance(c, str)]
    blob = next((s for s in strings if s.endswith(".tiktoken")), None)
    digest = next((s for s in strings if len(s) == 64 and s.isalnum()), None)
    if blob is None or digest is None:
        return None
    path = os.path.join(_tiktoken_cache_dir(), hashlib.sha1(blob.encode()).hexdigest())
    try:
        with open(path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                return None
    except OSError:
        return None
    return TiktokenCounter(tiktoken.get_encoding(encoding))


def _tiktoken_cache_dir() -> str:
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def default_counter(model: str | None) -> TokenCounter:
    return local_tiktoken(encoding_name(model)) or HeuristicCounter()


def estimate_usage(
    messages: Sequence[Message],
    output: str,
    *,
    model: str | None,
    counter: TokenCounter | None = None,
) -> Usage:
    """Estimated usage for a prompt and the text generated for it."""
    counter = counter or default_counter(model)
    prompt = 0
    for message in messages:
        prompt += _MESSAGE_OVERHEAD
        if isinstance(message.content, str):
            prompt += counter.count(message.content)
    completion = counter.count(output) if output else 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        estimated=True,
    )
