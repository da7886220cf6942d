"""Response caches: a completed stream recorded as the bytes it arrived in,
replayed through the same decoder on a hit.

Recording bytes (one list append per network read, at the session) rather
than chunks keeps the hot path free of copies, and a replay yields chunks
equal to the original ones, raw payloads included, whatever the provider.
The key is the normalized request: provider, model id and the request body
with its keys sorted (so parameter order does not matter); never the API
key, the base URL or other headers. Only streams that completed are stored:
not errors, not streams the caller stopped, not filtered ones.

``MemoryCache`` is a bounded LRU for one process. ``SQLiteCache`` is one
file shared by threads and processes: WAL journal (readers never wait for a
writer), a busy timeout for concurrent writers, and a connection per thread.
Both take a TTL and a size bound. Their methods are synchronous: a WAL read
is a fraction of a millisecond, and a write happens once per call.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import orjson

from ._errors import InvalidRequestError
from ._request import PreparedRequest

__all__ = ["Cache", "MemoryCache", "Recording", "SQLiteCache", "cache_key", "lookup", "store"]

_log = logging.getLogger("rill")

_FILTERED = frozenset({"content_filter"})


@dataclass(frozen=True, slots=True)
class Recording:
    """A completed response body: its pieces as read, and each piece's
    offset in seconds from the request (for a paced replay)."""

    pieces: tuple[bytes, ...]
    offsets: tuple[float, ...]
    provider: str
    model: str

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.pieces)

    def dumps(self) -> bytes:
        head = orjson.dumps(
            {
                "provider": self.provider,
                "model": self.model,
                "offsets": self.offsets,
                "sizes": [len(p) for p in self.pieces],
            }
        )
        return len(head).to_bytes(4, "big") + head + b"".join(self.pieces)

    @classmethod
    def loads(cls, blob: bytes) -> Recording:
        n = int.from_bytes(blob[:4], "big")
        head = orjson.loads(blob[4 : 4 + n])
        pieces, at = [], 4 + n
        for size in head["sizes"]:
            pieces.append(blob[at : at + size])
            at += size
        return cls(tuple(pieces), tuple(head["offsets"]), head["provider"], head["model"])


def cache_key(request: PreparedRequest) -> str:
    """The normalized request's digest (never the key or headers)."""
    http = request.http
    try:
        body = orjson.dumps(orjson.loads(http.body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        body = http.body
    digest = hashlib.sha256()
    # The URL tells apart two servers of one provider, and chat from text
    # completions; the body is the normalized request.
    for part in (request.provider.name, request.call.model, http.method, http.url):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def cacheable(finish_reason: str | None) -> bool:
    return finish_reason not in _FILTERED


# A cache that fails (a locked or full disk) costs a call its cache, never the call.
def lookup(cache: Cache, key: str) -> Recording | None:
    try:
        return cache.get(key)
    except (sqlite3.Error, OSError, ValueError) as exc:
        _log.warning("cache read failed, calling the provider: %s: %s", type(exc).__name__, exc)
        return None


def store(cache: Cache, key: str, recording: Recording) -> None:
    try:
        cache.set(key, recording)
    except (sqlite3.Error, OSError, ValueError) as exc:
        _log.warning("cache write failed, response not cached: %s: %s", type(exc).__name__, exc)


class Cache(Protocol):
    """What a ``Client(cache=...)`` needs; implement it to use another store."""

    paced: bool

    def get(self, key: str) -> Recording | None: ...

    def set(self, key: str, recording: Recording) -> None: ...


class MemoryCache:
    """An in-process LRU cache. ``ttl`` in seconds (None: no expiry);
    ``max_entries`` bounds the count; ``paced=True`` replays hits at the
    recorded pace rather than at once."""

    def __init__(
        self, *, ttl: float | None = None, max_entries: int = 1024, paced: bool = False
    ) -> None:
        _check_bounds(ttl, max_entries, None)
        self.ttl = ttl
        self.max_entries = max_entries
        self.paced = paced
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Recording]] = OrderedDict()

    def get(self, key: str) -> Recording | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.time():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, recording: Recording) -> None:
        expires = time.time() + self.ttl if self.ttl is not None else float("inf")
        with self._lock:
            self._entries[key] = (expires, recording)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS rill_cache (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    size INTEGER NOT NULL,
    expires REAL NOT NULL,
    used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rill_cache_used ON rill_cache (used);
"""


class SQLiteCache:
    """A cache in one SQLite file, shared safely by threads and processes.

    ``path`` (``~`` expanded; parent folders created); ``ttl`` in seconds
    (None: no expiry); ``max_entries`` and ``max_bytes`` bound the file's
    content, least recently used entries going first; ``busy_timeout`` is
    how long a writer waits for another process's write."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl: float | None = None,
        max_entries: int | None = 10_000,
        max_bytes: int | None = None,
        paced: bool = False,
        busy_timeout: float = 10.0,
    ) -> None:
        _check_bounds(ttl, max_entries, max_bytes)
        self.path = os.path.expanduser(os.fspath(path))
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.paced = paced
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._local.db = db
        return db

    def get(self, key: str) -> Recording | None:
        db = self._connect()
        now = time.time()
        row = db.execute(
            "SELECT value FROM rill_cache WHERE key = ? AND expires > ?", (key, now)
        ).fetchone()
        if row is None:
            return None
        db.execute("UPDATE rill_cache SET used = ? WHERE key = ?", (now, key))
        return Recording.loads(row[0])

    def set(self, key: str, recording: Recording) -> None:
        db = self._connect()
        now = time.time()
        expires = now + self.ttl if self.ttl is not None else float("inf")
        blob = recording.dumps()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO rill_cache (key, value, size, expires, used) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, blob, len(blob), expires, now),
            )
            db.execute("DELETE FROM rill_cache WHERE expires <= ?", (now,))
            if self.max_entries is not None:
                db.execute(
                    "DELETE FROM rill_cache WHERE key IN (SELECT key FROM rill_cache "
                    "ORDER BY used DESC LIMIT -1 OFFSET ?)",
                    (self.max_entries,),
                )
            if self.max_bytes is not None:
                self._trim_bytes(db, self.max_bytes)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _trim_bytes(db: sqlite3.Connection, limit: int) -> None:
        (total,) = db.execute("SELECT COALESCE(SUM(size), 0) FROM rill_cache").fetchone()
        if total <= limit:
            return
        doomed = []
        for key, size in db.execute("SELECT key, size FROM rill_cache ORDER BY used"):
            doomed.append((key,))
            total -= size
            if total <= limit:
                break
        db.executemany("DELETE FROM rill_cache WHERE key = ?", doomed)

    def __len__(self) -> int:
        (count,) = self._connect().execute("SELECT COUNT(*) FROM rill_cache").fetchone()
        return int(count)

    def clear(self) -> None:
        self._connect().execute("DELETE FROM rill_cache")

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def __repr__(self) -> str:
        return f"<rill.SQLiteCache {self.path!r}>"


def _check_bounds(ttl: float | None, entries: int | None, size: int | None) -> None:
    if ttl is not None and not ttl > 0:
        raise InvalidRequestError(f"ttl must be a positive number of seconds, not {ttl!r}")
    for name, value in (("max_entries", entries), ("max_bytes", size)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InvalidRequestError(f"{name} must be a positive int, not {value!r}")
