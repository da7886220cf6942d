"""Sans-IO wire formats: bytes in, frames out. No sockets, no event loops."""

from ._sse import ServerSentEvent, SSEDecoder

__all__ = ["SSEDecoder", "ServerSentEvent"]
