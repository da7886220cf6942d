"""Sans-IO wire formats: bytes in, frames out. No sockets, no event loops."""

from ._json_array import JSONArrayDecoder
from ._ndjson import NDJSONDecoder
from ._sse import ServerSentEvent, SSEDecoder

__all__ = ["JSONArrayDecoder", "NDJSONDecoder", "SSEDecoder", "ServerSentEvent"]
