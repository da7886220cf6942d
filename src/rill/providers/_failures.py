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
``StreamChunk`` that breaks (or lies) later, far from its cause.
``check_chunks`` catches those as the chunks leave ``feed`` or ``flush``
(once per call, a few attribute checks per chunk), so every chunk a decoder
returns has the types ``StreamChunk`` documents.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable

from .._chunks import StreamChunk, ToolCallDelta
from .._errors import ProtocolError, RillError
from .._response import Usage

__all__ = ["check_chunks", "decode_body", "shape_error"]

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


def check_chunks(chunks: list[StreamChunk], provider: str) -> ProtocolError | None:
    """The ``ProtocolError`` for the first chunk whose fields do not have the
    types ``StreamChunk`` promises (text ``str``, ``index`` ``int``, ``model``,
    ``id``, finish reasons and signature ``str`` or None, ...), or None.

    That chunk and those after it are removed from ``chunks``; the ones
    before it stay, to be delivered before the error. Run once per ``feed``
    over what it decoded: a few attribute checks per chunk."""
    i = 0
    for c in chunks:
        if not (
            c.content.__class__ is str
            and c.reasoning.__class__ is str
            and c.refusal.__class__ is str
            and c.index.__class__ is int
            and c.items.__class__ is tuple
            and (c.model is None or c.model.__class__ is str)
            and (c.id is None or c.id.__class__ is str)
            and (c.finish_reason is None or c.finish_reason.__class__ is str)
            and (c.native_finish_reason is None or c.native_finish_reason.__class__ is str)
            and (c.reasoning_signature is None or c.reasoning_signature.__class__ is str)
            and (c.logprobs is None or c.logprobs.__class__ is list)
            and (c.usage is None or _usage_ok(c.usage))
            and (c.tool_calls == () or _calls_ok(c.tool_calls))
        ):
            error = ProtocolError(
                f"{provider}: unexpected event ({_what_is_wrong(c)}): {quote(c._raw)}"
            )
            del chunks[i:]
            return error
        i += 1  # noqa: SIM113 (enumerate would build a tuple per chunk)
    return None


def _usage_ok(usage: Usage) -> bool:
    return usage.__class__ is Usage and all(
        getattr(usage, name).__class__ in _NUMBER for name in _USAGE_FIELDS
    )


_USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cached_tokens",
)


def _calls_ok(calls: object) -> bool:
    return calls.__class__ is tuple and all(map(_call_ok, calls))


def _call_ok(delta: ToolCallDelta) -> bool:
    return (
        delta.__class__ is ToolCallDelta
        and delta.index.__class__ is int
        and (delta.id is None or delta.id.__class__ is str)
        and (delta.name is None or delta.name.__class__ is str)
        and delta.arguments.__class__ is str
    )


def _what_is_wrong(chunk: StreamChunk) -> str:
    """Which field of an ill-typed chunk is wrong, for the message (slow path)."""
    expected: dict[str, tuple[type, ...]] = {
        "content": (str,),
        "reasoning": (str,),
        "refusal": (str,),
        "index": (int,),
        "tool_calls": (tuple,),
        "items": (tuple,),
        "model": (str, type(None)),
        "id": (str, type(None)),
        "finish_reason": (str, type(None)),
        "native_finish_reason": (str, type(None)),
        "reasoning_signature": (str, type(None)),
        "logprobs": (list, type(None)),
    }
    for name, types in expected.items():
        value = getattr(chunk, name)
        if value.__class__ not in types:
            return f"{name} is {quote(value)}, not {' or '.join(t.__name__ for t in types)}"
    if chunk.usage is not None:
        for name in _USAGE_FIELDS:
            value = getattr(chunk.usage, name)
            if value.__class__ not in _NUMBER:
                return f"usage {name} is {quote(value)}, not a number"
    for delta in chunk.tool_calls:
        if not _call_ok(delta):
            return f"a tool call is {quote(_fields_of(delta))}"
    return "a field has an unexpected type"  # pragma: no cover


def _fields_of(delta: ToolCallDelta) -> dict[str, object]:
    return {name: getattr(delta, name, None) for name in ToolCallDelta.__slots__}


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
    bad = check_chunks(chunks, provider)
    if bad is not None:
        raise bad
    return chunks
