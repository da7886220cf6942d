"""An HTTPS origin that speaks only HTTP/2 (ALPN ``h2``), for the tests that
show a user's ``httpx`` client with ``http2=True`` streams through rill.

It serves every request the same OpenAI-style event stream, one DATA frame
per event with a pause between them, and records what it saw: the protocol
negotiated, the request headers, and how many streams each connection
carried (so a test can tell that two calls shared one connection).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import orjson

from .listener import Listener

__all__ = ["H2Origin"]


def chat_events(pieces: list[str]) -> list[bytes]:
    events = [
        b"data: "
        + orjson.dumps(
            {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": p}}]}
        )
        + b"\n\n"
        for p in pieces
    ]
    done = {
        "id": "c1",
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    events.append(b"data: " + orjson.dumps(done) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


@dataclass
class H2Origin:
    context: ssl.SSLContext
    pieces: list[str]
    pause: float = 0.01
    alpn: list[str] = field(default_factory=list)
    streams_per_connection: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context.set_alpn_protocols(["h2"])
        self._listener = Listener(self._connection)
        self._listener.start()

    @property
    def url(self) -> str:
        return f"https://localhost:{self._listener.port}/v1"

    def close(self) -> None:
        self._listener.close()

    def _connection(self, raw: socket.socket) -> None:
        raw.settimeout(5)
        try:
            sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        self.alpn.append(sock.selected_alpn_protocol() or "")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        served = 0
        self.streams_per_connection.append(0)
        slot = len(self.streams_per_connection) - 1
        try:
            while not self._listener.stopping:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        headers = {k.decode(): v.decode() for k, v in event.headers}
                        self.paths.append(headers.get(":path", ""))
                        self._respond(sock, conn, event.stream_id)
                        served += 1
                        self.streams_per_connection[slot] = served
                sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError):
            pass
        finally:
            sock.close()

    def _respond(self, sock: ssl.SSLSocket, conn: h2.connection.H2Connection, stream: int) -> None:
        conn.send_headers(stream, [(":status", "200"), ("content-type", "text/event-stream")])
        sock.sendall(conn.data_to_send())
        for event in chat_events(self.pieces):
            conn.send_data(stream, event)
            sock.sendall(conn.data_to_send())
            time.sleep(self.pause)
        conn.end_stream(stream)
        sock.sendall(conn.data_to_send())
