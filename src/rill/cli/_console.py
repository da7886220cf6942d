"""The rich ``Console`` for a stream, made on first use (rich costs ~30 ms to import)."""

from __future__ import annotations

from typing import Any, TextIO

__all__ = ["console"]


def console(file: TextIO) -> Any:
    from rich.console import Console

    return Console(file=file, highlight=False, soft_wrap=False)
