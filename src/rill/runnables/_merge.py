"""How the chunks of a stream add up to one value: a step that waits for its
whole input gets them merged, and a run's end event shows its merged input
and output.

Chunks of a model's stream are folded by one ``Accumulator`` pass (tool
calls by index, usage not summed), text is joined once, and dicts (the
chunks of parallel branches) merge key by key: adding pairwise with ``+``
would copy the text so far at every chunk.
"""

from __future__ import annotations

from typing import Any

from .._accumulate import merge_chunks
from .._chunks import StreamChunk

__all__ = ["Lazy", "merge_values"]


def merge_values(values: list[Any]) -> Any:
    """The chunks in ``values`` merged into one value (None for none)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    first = values[0]
    kind = type(first)
    if kind is str and all(type(v) is str for v in values):
        return "".join(values)
    if kind is StreamChunk and all(type(v) is StreamChunk for v in values):
        return merge_chunks(values)
    if isinstance(first, dict) and all(isinstance(v, dict) for v in values):
        keyed: dict[Any, list[Any]] = {}
        for value in values:
            for key, item in value.items():
                keyed.setdefault(key, []).append(item)
        return {key: merge_values(items) for key, items in keyed.items()}
    if kind is list and all(type(v) is list for v in values):
        return [item for value in values for item in value]
    merged = first
    for value in values[1:]:
        try:
            merged = merged + value
        except TypeError:
            return values[-1]  # values that do not add: the last one stands
    return merged


class Lazy:
    """Chunks to merge only if someone looks (an event that shows them)."""

    __slots__ = ("values",)

    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def value(self) -> Any:
        return merge_values(self.values)
