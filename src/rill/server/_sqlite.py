"""The SQLite store: several worker processes on one machine share one file.

Fenced appends are ``BEGIN IMMEDIATE`` transactions (SQLite's write lock makes
the lease check and the insert one step). Leases use wall-clock time, as the
processes share no other clock. A reader in the process that appended wakes at
once; SQLite has no cross-process notification, so on asyncio the processes
wake each other's readers with datagrams (``_sqlite_wake``), and a waiter
also looks again every 250 ms in case one was lost; where that cannot be
done (trio, no Unix sockets) it re-checks every ``poll`` seconds (50 ms by
default): bounded, never a tight loop. Calls run in worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from ._log import (
    READ_BATCH,
    Event,
    LeaseLost,
    StreamFinished,
    StreamGone,
    StreamInfo,
    StreamStore,
    check_final_last,
    new_epoch,
    require_final,
)
from ._sqlite_wake import Wakeups

__all__ = ["SQLiteStore"]

# The fallback interval of a waiter that other processes' appends wake.
_WOKEN_POLL = 0.25

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rill_streams (
    id TEXT PRIMARY KEY, epoch TEXT NOT NULL, tenant TEXT NOT NULL, token TEXT NOT NULL,
    lease_until REAL NOT NULL, last_seq INTEGER NOT NULL, finished INTEGER NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rill_holds (
    tenant TEXT NOT NULL, holder TEXT NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (tenant, holder)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rill_events (
    stream_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (stream_id, seq)
) WITHOUT ROWID;
"""


class SQLiteStore(StreamStore):
    """Streams in the SQLite database at ``path`` (created if missing).

    A running stream is kept ``running_ttl`` seconds, a finished one
    ``finished_ttl`` seconds after its final event."""

    def __init__(
        self,
        path: str | Path,
        *,
        running_ttl: float = 86400.0,
        finished_ttl: float = 300.0,
        poll: float = 0.05,
    ) -> None:
        self.path = str(path)
        self.running_ttl = running_ttl
        self.finished_ttl = finished_ttl
        self.poll = poll
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._changed: dict[str, anyio.Event] = {}
        self._wakeups = Wakeups(self.path, self._notify)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._db)

        return await anyio.to_thread.run_sync(locked)

    def _notify(self, stream_id: str) -> None:
        event = self._changed.pop(stream_id, None)
        if event is not None:
            event.set()

    async def hold(self, tenant: str, holder: str, limit: int, ttl: float) -> int | None:
        def hold(db: sqlite3.Connection) -> int | None:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM rill_holds WHERE tenant = ? AND until <= ?", (tenant, now))
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM rill_holds WHERE tenant = ?", (tenant,)
                ).fetchone()
                held = db.execute(
                    "SELECT 1 FROM rill_holds WHERE tenant = ? AND holder = ?", (tenant, holder)
                ).fetchone()
                if held is not None:
                    db.execute("COMMIT")
                    return int(count) - 1
                if count >= limit:
                    db.execute("COMMIT")
                    return None
                db.execute(
                    "INSERT INTO rill_holds VALUES (?, ?, ?)",
                    (tenant, holder, now + ttl),
                )
                db.execute("COMMIT")
                return int(count)
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._run(hold)

    async def renew_holds(self, tenant: str, holders: Sequence[str], ttl: float) -> None:
        def renew(db: sqlite3.Connection) -> None:
            now = time.time()
            db.executemany(
                "UPDATE rill_holds SET until = ? WHERE tenant = ? AND holder = ? AND until > ?",
                [(now + ttl, tenant, holder, now) for holder in holders],
            )

        await self._run(renew)

    async def release_hold(self, tenant: str, holder: str) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM rill_holds WHERE tenant = ? AND holder = ?", (tenant, holder))

        await self._run(release)

    async def create(self, stream_id: str, tenant: str, token: str, lease_ttl: float) -> str:
        epoch = new_epoch()

        def create(db: sqlite3.Connection) -> None:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            try:
                expired = "SELECT id FROM rill_streams WHERE expires <= ?"
                db.execute(f"DELETE FROM rill_events WHERE stream_id IN ({expired})", (now,))
                db.execute("DELETE FROM rill_streams WHERE expires <= ?", (now,))
                db.execute(
                    "INSERT INTO rill_streams VALUES (?, ?, ?, ?, ?, 0, 0, ?)",
                    (stream_id, epoch, tenant, token, now + lease_ttl, now + self.running_ttl),
                )
                db.execute("COMMIT")
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")
                raise ValueError(f"stream {stream_id!r} exists") from None
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._run(create)
        return epoch

    def _write(
        self,
        db: sqlite3.Connection,
        stream_id: str,
        token: str | None,
        events: Sequence[tuple[str, str]],
        lease_ttl: float,
        if_lapsed: bool = False,
    ) -> int | None:
        """One fenced transaction; ``token=None`` is a finish (not fenced, and
        None instead of raising when the stream already ended)."""
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT token, lease_until, last_seq, finished, expires FROM rill_streams "
                "WHERE id = ?",
                (stream_id,),
            ).fetchone()
            if row is None or row[4] <= now:
                raise StreamGone(stream_id)
            held, lease_until, seq, finished, _ = row
            if finished:
                if token is None:
                    db.execute("ROLLBACK")
                    return None
                raise StreamFinished(stream_id)
            if token is not None and (held != token or lease_until <= now):
                raise LeaseLost(stream_id)
            if token is None and if_lapsed and lease_until > now:
                db.execute("ROLLBACK")
                return None
            final = check_final_last(events)
            rows = [(stream_id, seq + i, kind, data) for i, (kind, data) in enumerate(events, 1)]
            db.executemany("INSERT INTO rill_events VALUES (?, ?, ?, ?)", rows)
            seq += len(rows)
            expires = now + (self.finished_ttl if final else self.running_ttl)
            new_lease = now + lease_ttl if token is not None else lease_until
            db.execute(
                "UPDATE rill_streams SET last_seq = ?, finished = ?, lease_until = ?, expires = ? "
                "WHERE id = ?",
                (seq, int(final), new_lease, expires, stream_id),
            )
            db.execute("COMMIT")
            return int(seq)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    async def append(
        self, stream_id: str, token: str, events: Sequence[tuple[str, str]], lease_ttl: float
    ) -> int:
        check_final_last(events)
        seq = await self._run(lambda db: self._write(db, stream_id, token, events, lease_ttl))
        self._notify(stream_id)
        self._wakeups.announce(stream_id)
        assert seq is not None
        return seq

    async def renew(self, stream_id: str, token: str, lease_ttl: float) -> None:
        await self._run(lambda db: self._write(db, stream_id, token, (), lease_ttl))

    async def finish(self, stream_id: str, kind: str, data: str, *, if_lapsed: bool) -> bool:
        require_final(kind)
        seq = await self._run(
            lambda db: self._write(db, stream_id, None, [(kind, data)], 0.0, if_lapsed)
        )
        self._notify(stream_id)
        self._wakeups.announce(stream_id)
        return seq is not None

    def _info(self, db: sqlite3.Connection, stream_id: str) -> StreamInfo | None:
        row = db.execute(
            "SELECT epoch, tenant, last_seq, finished, lease_until, expires FROM rill_streams "
            "WHERE id = ?",
            (stream_id,),
        ).fetchone()
        now = time.time()
        if row is None or row[5] <= now:
            return None
        finished = bool(row[3])
        return StreamInfo(row[0], row[1], row[2], finished, not finished and row[4] <= now)

    async def info(self, stream_id: str) -> StreamInfo | None:
        return await self._run(lambda db: self._info(db, stream_id))

    def _events(
        self, db: sqlite3.Connection, stream_id: str, after: int
    ) -> tuple[list[Event], bool]:
        info = self._info(db, stream_id)
        if info is None:
            raise StreamGone(stream_id)
        rows = db.execute(
            "SELECT seq, kind, data FROM rill_events WHERE stream_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (stream_id, after, READ_BATCH),
        ).fetchall()
        return [Event(*row) for row in rows], info.finished

    async def read(self, stream_id: str, after: int, timeout: float) -> list[Event]:
        deadline = time.monotonic() + timeout
        # Woken by other processes' appends, a waiter looks again less often.
        poll = max(self.poll, _WOKEN_POLL) if self._wakeups.listen() else self.poll
        while True:
            changed = self._changed.get(stream_id)
            if changed is None:
                changed = self._changed[stream_id] = anyio.Event()
            events, finished = await self._run(lambda db: self._events(db, stream_id, after))
            if finished:
                self._changed.pop(stream_id, None)
            remaining = deadline - time.monotonic()
            if events or finished or remaining <= 0:
                return events
            with anyio.move_on_after(min(remaining, poll)):
                await changed.wait()

    async def aclose(self) -> None:
        self._wakeups.close()
        with self._lock:
            self._db.close()
