"""A loopback TCP listener for the tests' hand-written origins
(``rawhttp``, ``h2origin``): it accepts connections in a thread and serves
each in a thread of its own, counts them, and stops and joins them all."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

__all__ = ["Listener"]


class Listener:
    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.connections = 0
        self._serve_one = serve
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)  # so that the accept loop sees ``close``
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)

    @property
    def stopping(self) -> bool:
        """True once ``close`` was called: connection threads end their loops."""
        return self._stop.is_set()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        self._accept.start()

    def close(self) -> None:
        self._stop.set()
        self._accept.join(5)
        for thread in self._threads:
            thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve_one, args=(raw,), daemon=True)
            self._threads.append(thread)
            thread.start()
