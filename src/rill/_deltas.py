"""ToolCallDelta: a fragment of a streamed tool call. A module of its own so
the accumulator can check fragments without importing the chunk class (which
merges chunks through the accumulator)."""

from __future__ import annotations

__all__ = ["ToolCallDelta"]


class ToolCallDelta:
    """A fragment of a tool call: the first fragment of a call carries ``id`` and
    ``name``; later ones carry an ``arguments`` piece. ``index`` says which call."""

    __slots__ = ("arguments", "id", "index", "name")

    def __init__(
        self, index: int, id: str | None = None, name: str | None = None, arguments: str = ""
    ) -> None:
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolCallDelta):
            return NotImplemented
        return (self.index, self.id, self.name, self.arguments) == (
            other.index,
            other.id,
            other.name,
            other.arguments,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ToolCallDelta(index={self.index}, id={self.id!r}, name={self.name!r}, "
            f"arguments={self.arguments!r})"
        )
