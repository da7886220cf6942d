"""A real pseudo-terminal for CLI tests: the command runs with a tty as its
controlling terminal (so Ctrl-C is the terminal's, not a signal a test sends
by pid), and what it writes is rendered by the ``pyte`` terminal emulator
into screens a test can read, cell attributes included."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable, Mapping

import pyte

__all__ = ["Terminal"]


class Terminal:
    """``python -m rill ARGS`` in a ``cols`` x ``rows`` terminal."""

    def __init__(
        self, args: list[str], env: Mapping[str, str], *, cols: int = 100, rows: int = 30
    ) -> None:
        self.screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.screens: list[str] = []  # every distinct screen, in order
        self.status: int | None = None
        pid, fd = pty.fork()
        if pid == 0:  # the child: size its terminal, then become the command
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            # As an interactive shell does: a test run started in the
            # background (`make test &`) ignores SIGINT, and exec keeps that.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execve(sys.executable, [sys.executable, "-m", "rill", *args], dict(env))
        self.pid, self.fd = pid, fd

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def read_until(self, done: Callable[[str], bool], timeout: float = 15.0) -> bool:
        """Read and render until ``done(screen text)``; False if the output
        ended or ``timeout`` passed first."""
        end = time.monotonic() + timeout
        while not done(self.text()):
            left = end - time.monotonic()
            if left <= 0 or not self._read(left):
                return done(self.text())
        return True

    def wait(self, timeout: float = 15.0) -> int:
        """Read until the command exits; its exit status."""
        end = time.monotonic() + timeout
        while self._read(max(end - time.monotonic(), 0.01)) and time.monotonic() < end:
            pass
        deadline = time.monotonic() + max(end - time.monotonic(), 1.0)
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"the command did not exit; screen:\n{self.text()}")
            else:
                time.sleep(0.02)
        os.close(self.fd)
        return self.status

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the command closed the terminal
            return False
        if not data:
            return False
        self.raw += data
        self._stream.feed(data)
        text = self.text()
        if not self.screens or self.screens[-1] != text:
            self.screens.append(text)
        return True
