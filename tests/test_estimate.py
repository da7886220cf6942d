"""Usage estimates: tiktoken only from a verified local file, else the heuristic."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import tiktoken

from rill import Message, MessageRole
from rill._estimate import (
    HeuristicCounter,
    TiktokenCounter,
    encoding_name,
    estimate_usage,
    local_tiktoken,
)


def tiny_encoding() -> tiktoken.Encoding:
    """A byte-level BPE built here: every byte is a token, plus one merge."""
    ranks = {bytes([b]): b for b in range(256)}
    ranks[b"ab"] = 256
    return tiktoken.Encoding(
        name="rill-test", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={}
    )


def test_tiktoken_counter_counts_with_the_given_encoding() -> None:
    counter = TiktokenCounter(tiny_encoding())
    assert counter.count("ab") == 1
    assert counter.count("abc d") == 4  # "ab", "c", " ", "d"
    usage = estimate_usage(
        [Message(MessageRole.USER, "ab")], "abab", model="gpt-4o", counter=counter
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (5, 2, True)


def test_heuristic_is_four_characters_a_token() -> None:
    assert HeuristicCounter().count("") == 0
    assert HeuristicCounter().count("abcd") == 1
    assert HeuristicCounter().count("abcde") == 2


def test_no_local_encoding_means_heuristic_and_no_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))

    def no_network(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("tiktoken tried to download")

    import tiktoken.load

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    local_tiktoken.cache_clear()
    try:
        assert local_tiktoken("o200k_base") is None
        usage = estimate_usage([Message(MessageRole.USER, "hi")], "abcdefgh", model="gpt-4o")
        assert usage.completion_tokens == 2 and usage.estimated
    finally:
        local_tiktoken.cache_clear()


def test_a_cached_file_with_the_wrong_checksum_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tiktoken would delete and re-download a mismatching file; rill must not let it."""
    import hashlib

    from tiktoken_ext import openai_public

    blob = next(
        c
        for c in openai_public.cl100k_base.__code__.co_consts
        if isinstance(c, str) and c.endswith(".tiktoken")
    )
    fake = b"\n".join(base64.b64encode(bytes([b])) + b" %d" % b for b in range(256))
    (tmp_path / hashlib.sha1(blob.encode()).hexdigest()).write_bytes(fake)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    local_tiktoken.cache_clear()
    try:
        assert local_tiktoken("cl100k_base") is None
    finally:
        local_tiktoken.cache_clear()


def test_encoding_names_by_model_family() -> None:
    assert encoding_name("openai/gpt-4o-mini") == "o200k_base"
    assert encoding_name("gpt-5") == "o200k_base"
    assert encoding_name("meta-llama/Llama-3") == "cl100k_base"
