"""Feeding a decoder a body cut at given positions, for byte-split tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from rill import Message, MessageRole, StreamChunk
from rill._accumulate import Accumulator
from rill._params import Params
from rill.providers import Call, ChunkDecoder


def call(**params: Any) -> Call:
    """A minimal call, for building a codec's stream decoder."""
    return Call(
        model="m", messages=(Message(MessageRole.USER, "x"),), params=Params(**params), provider="p"
    )


def decode_split(
    decoder: ChunkDecoder, body: bytes, cuts: Iterable[int]
) -> tuple[list[StreamChunk], tuple[Any, ...]]:
    """The chunks of ``body`` fed in pieces cut at ``cuts``, and what they add
    up to: the response, the error (type and message) and completeness. Two
    ways of cutting one body must give equal results."""
    chunks: list[StreamChunk] = []
    for start, end in itertools.pairwise([0, *sorted(cuts), len(body)]):
        chunks += decoder.feed(body[start:end])
    chunks += decoder.flush()
    accumulator = Accumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    error = decoder.error
    return chunks, (accumulator.snapshot(), type(error), str(error), decoder.complete)
