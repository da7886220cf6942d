"""Store URLs, as ``rill serve --store`` takes them, to stores."""

from __future__ import annotations

from ._log import StreamStore

__all__ = ["open_store"]


def open_store(url: str) -> StreamStore:
    """``memory``, ``sqlite:PATH``, ``redis://host:port/db`` (``rediss://``
    for TLS) or ``redis+cluster://host:port`` (``rediss+cluster://``), any
    node of a Redis Cluster."""
    if url == "memory":
        from ._memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:").removeprefix("//")
        if not path:
            raise ValueError("sqlite: needs a path, e.g. sqlite:/var/lib/rill/streams.db")
        from ._sqlite import SQLiteStore

        return SQLiteStore(path)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from ._redis import RedisStore

        return RedisStore(url)
    if url.startswith(("redis+cluster://", "rediss+cluster://")):
        from ._redis import RedisStore

        return RedisStore(url.replace("+cluster", "", 1), cluster=True)
    raise ValueError(
        f"unknown store {url!r}: use memory, sqlite:PATH, redis://HOST:PORT/DB "
        "or redis+cluster://HOST:PORT (any node of a Redis Cluster)"
    )
