"""What a codec did not expect, translated into ``ProtocolError`` in one place.

Codecs read the fields they know with plain ``dict.get`` and attribute calls,
as if the server always sent the documented shape. Valid JSON of another shape
(``"choices": "abc"``, a delta that is a string, an event name that is not
UTF-8) then fails with whatever Python raises: ``AttributeError``,
``TypeError``, ``KeyError``, ``UnicodeDecodeError``, ... The decoder loops
(``SSEStreamDecoder``, ``OllamaDecoder``, ``GeminiDecoder``) and the whole-body
decoders catch that around each event and hand it to ``shape_error``, which
names the provider, the event and what went wrong, quotes at most 200
characters of the data, and is chained from the original exception.

A wrong shape can also fail silently: a ``content`` that is a number, a
``model`` that is a list, usage counts that are strings would become a
``StreamChunk`` that breaks (or lies) later, far from its cause. Those are
stopped where every codec's chunks converge, ``Accumulator.add``, which the
session calls on each chunk before it reaches the caller.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable

from .._chunks import StreamChunk
from .._errors import ProtocolError, RillError

__all__ = ["decode_body", "shape_error"]

# How much of the offending data a message quotes.
_QUOTE = 200

_repr = reprlib.Repr()
_repr.maxlevel = 6
_repr.maxstring = _QUOTE
_repr.maxother = _QUOTE
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 8

_NUMBER = (int, float)


def shape_error(exc: BaseException, provider: str, where: str, data: object) -> ProtocolError:
    """The ``ProtocolError`` for ``exc``, raised while decoding ``where``
    (an event, a line, a body) of ``provider``'s response from ``data``.

    Raise it ``from exc``."""
    detail = str(exc)[:_QUOTE] if str(exc) else ""
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return ProtocolError(f"{provider}: unexpected {where} ({reason}): {quote(data)}")


def quote(data: object) -> str:
    """At most ``_QUOTE`` characters showing ``data``, however large or deep."""
    if isinstance(data, bytes | bytearray | str):
        return repr(data[:_QUOTE])
    return _repr.repr(data)[:_QUOTE]


def decode_body(
    provider: str, body: bytes, decode: Callable[[bytes], list[StreamChunk]]
) -> list[StreamChunk]:
    """``decode(body)`` for a whole (non-streamed) response, with whatever it
    did not expect raised as ``ProtocolError``."""
    try:
        chunks = decode(body)
    except RillError:
        raise
    except Exception as exc:
        raise shape_error(exc, provider, "response body", body) from exc
    return chunks
