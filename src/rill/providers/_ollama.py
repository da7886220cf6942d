"""Placeholder: this provider's codec is being written."""

from __future__ import annotations

from ._provider import Provider

__all__ = ["providers"]


def providers() -> list[Provider]:
    """The endpoints this module's codec serves."""
    return []
