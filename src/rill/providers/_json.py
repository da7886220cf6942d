"""JSON from a provider's stream: malformed JSON is the peer's fault, so it is
a ``ProtocolError`` quoting the start of what arrived."""

from __future__ import annotations

from typing import Any

import orjson

from .._errors import ProtocolError

__all__ = ["loads"]


def loads(data: str | bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON in stream ({exc}): {data[:200]!r}") from None
