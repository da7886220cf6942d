"""Wake-ups between the processes that share one SQLite file.

SQLite has no notification of its own, so a reader waiting on a stream that
another process writes would only see an append when it next looks. Each
process that waits binds a Unix datagram socket in a directory named after
the database (``$TMPDIR/rill-sqlite-<digest of its path>/``), and a process
that appends sends the stream's id to every other socket there. A datagram
only says "look again": one lost (a full buffer, a process that went away)
costs a waiter at most its polling interval, which stays as the fallback.

This needs ``AF_UNIX`` and an asyncio event loop (to watch the socket without
a task); elsewhere the store polls as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["Wakeups"]

# How long a listing of the other processes' sockets is reused.
_LISTING_TTL = 1.0


class Wakeups:
    def __init__(self, database: str, on_wake: Callable[[str], None]) -> None:
        digest = hashlib.sha256(os.path.abspath(database).encode()).hexdigest()[:16]
        self.directory = Path(tempfile.gettempdir()) / f"rill-sqlite-{digest}"
        self._on_wake = on_wake
        self._socket: socket.socket | None = None
        self._path: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sender: socket.socket | None = None
        self._peers: list[str] = []
        self._listed = 0.0

    @property
    def listening(self) -> bool:
        return self._socket is not None

    def listen(self) -> bool:
        """Start receiving wake-ups on the running asyncio loop (once); False
        where that cannot be done, and the caller polls."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio)
            return False
        if self._socket is not None:
            return loop is self._loop
        if not hasattr(socket, "AF_UNIX"):
            return False
        path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            sock.setblocking(False)
            sock.bind(str(path))
            loop.add_reader(sock.fileno(), self._receive)
        except (OSError, NotImplementedError):
            sock.close()
            return False
        self._socket, self._path, self._loop = sock, path, loop
        return True

    def _receive(self) -> None:
        assert self._socket is not None
        while True:
            try:
                data = self._socket.recv(1024)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._on_wake(data.decode(errors="replace"))

    def announce(self, stream_id: str) -> None:
        """Tell every other waiting process that ``stream_id`` changed."""
        now = time.monotonic()
        if now - self._listed > _LISTING_TTL:
            self._listed = now
            try:
                self._peers = [str(p) for p in self.directory.glob("*.sock") if p != self._path]
            except OSError:
                self._peers = []
        if not self._peers:
            return
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        message = stream_id.encode()
        for peer in self._peers:
            try:
                self._sender.sendto(message, peer)
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody is bound there any more: a process that stopped.
                with contextlib.suppress(OSError):
                    os.unlink(peer)
            except OSError:
                pass  # a full buffer: that process polls

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._socket is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._socket.fileno())
        self._socket.close()
        self._socket = None
        if self._path is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()
            with contextlib.suppress(OSError):
                self.directory.rmdir()  # the last one out (fails while others wait)
