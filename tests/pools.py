"""rill's process-wide sync client, made afresh for a test and closed after,
so that a test can count the connections it opens and see them all closed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rill.transports import _httpx

__all__ = ["own_sync_pool"]


@contextmanager
def own_sync_pool() -> Iterator[None]:
    saved = _httpx._default_client
    _httpx._default_client = None
    try:
        yield
    finally:
        if _httpx._default_client is not None:
            _httpx._default_client.close()
        _httpx._default_client = saved
