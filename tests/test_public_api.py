"""The curated public namespace: complete, sorted, and nothing else leaks."""

from __future__ import annotations

import importlib
import types
from typing import Any

import pytest

import rill
from rill import _errors


def test_all_names_exist_and_are_sorted() -> None:
    for name in rill.__all__:
        assert hasattr(rill, name), name
    assert rill.__all__ == sorted(rill.__all__)


def test_every_public_attribute_is_in_all() -> None:
    public = {
        name
        for name, value in vars(rill).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"TYPE_CHECKING", "Any"} <= set(rill.__all__)


def test_lazy_names_load_on_first_use() -> None:
    for name in rill._LAZY:
        assert getattr(rill, name) is getattr(rill.structured, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rill.nope  # noqa: B018


def test_every_error_is_exported() -> None:
    assert set(_errors.__all__) <= set(rill.__all__)
    for name in _errors.__all__:
        error = getattr(rill, name)
        assert issubclass(error, rill.RillError)


def test_local_and_remote_errors_are_distinct() -> None:
    assert issubclass(rill.ConfigurationError, ValueError)
    assert not issubclass(rill.RemoteError, rill.ConfigurationError)
    assert issubclass(rill.StreamError, rill.RemoteError)
    assert issubclass(rill.TimeoutError, rill.TransportError)


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_every_error_is_exported_drawn_and_public() -> None:
    """Walks the real hierarchy, so a new error that is not exported from
    rill, not drawn in the tree of _errors' docstring, or that shows a
    private module in tracebacks fails here."""
    import pickle

    import rill.structured

    errors = {rill.RillError} | _subclasses(rill.RillError)
    ours = {e for e in errors if e.__module__ in ("rill",) or e.__module__.startswith("rill.")}
    assert len(ours) >= 22
    doc = _errors.__doc__ or ""
    for error in ours:
        name = error.__name__
        assert name in rill.__all__, f"{name} is not exported from rill"
        assert getattr(rill, name) is error
        assert f" {name} " in doc or f" {name}\n" in doc, f"{name} is not drawn in the tree"
        assert error.__module__ == "rill", f"{name}.__module__ is {error.__module__}"
    instance = rill.ProtocolError("bad bytes")
    assert repr(instance) == "ProtocolError('bad bytes')"
    assert type(pickle.loads(pickle.dumps(instance))) is rill.ProtocolError


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("sync", "async_"),
    [
        (rill.Stream, rill.AsyncStream),
        (rill.ObjectStream, rill.AsyncObjectStream),
    ],
)
def test_every_sync_name_has_its_async_twin(sync: type, async_: type) -> None:
    """The same name when it does no I/O (``response``), the ``a``-prefixed
    name when it does (``close`` / ``aclose``, ``final`` / ``afinal``)."""
    deprecated = {"until_done"}  # AsyncStream's old name for auntil_done
    sync_names, async_names = _public(sync), _public(async_) - deprecated
    for name in sync_names:
        assert name in async_names or f"a{name}" in async_names, f"{async_.__name__} lacks {name}"
    for name in async_names:
        twin = name[1:] if name.startswith("a") and name[1:] in sync_names else name
        assert twin in sync_names, f"{sync.__name__} lacks the twin of {name}"


async def test_the_old_async_until_done_still_works_and_warns(rill_emulator: Any) -> None:
    from rill.testing import Script

    rill_emulator.enqueue(Script.of_text("old name"))
    stream = rill.agenerate_stream("Hi", model="vllm/m", base_url=rill_emulator.base_url)
    with pytest.warns(DeprecationWarning, match="auntil_done"):
        response = await stream.until_done()  # type: ignore[deprecated]
    assert response.content == "old name"


# Objects that take input piece by piece: ``feed`` (or ``decode``) each piece,
# ``flush`` at the end of input. No other end-of-input verb.
_INCREMENTAL = [
    "rill.wire:SSEDecoder",
    "rill.wire:NDJSONDecoder",
    "rill.wire:JSONArrayDecoder",
    "rill.wire._decompress:Decompressor",
    "rill.structured:JsonStreamParser",
    "rill.structured:ObjectTracker",
    "rill.providers:ChunkDecoder",
    "rill._session:StreamSession",
    "rill.structured._session:StructuredSession",
]
_DEPRECATED_ENDS = {"JsonStreamParser": {"close"}, "ObjectTracker": {"close", "end"}}


@pytest.mark.parametrize("where", _INCREMENTAL)
def test_every_incremental_decoder_ends_input_with_flush(where: str) -> None:
    module, _, name = where.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert callable(getattr(cls, "flush", None)), f"{name} has no flush()"
    others = {"close", "end", "finish", "eof", "feed_eof"} & set(dir(cls))
    assert others == _DEPRECATED_ENDS.get(name, set()), f"{name} also ends input with {others}"


def test_the_old_end_of_input_names_still_work_and_warn() -> None:
    from pydantic import BaseModel

    from rill.structured import JsonStreamParser, ObjectTracker

    parser = JsonStreamParser()
    parser.feed("12")
    with pytest.warns(DeprecationWarning, match="flush"):
        assert parser.close()  # type: ignore[deprecated]

    class Point(BaseModel):
        x: int

    tracker = ObjectTracker(Point)
    tracker.feed('{"x": 1}')
    with pytest.warns(DeprecationWarning, match="flush_document"):
        assert tracker.end() == {"x": 1}  # type: ignore[deprecated]
    tracker = ObjectTracker(Point)
    tracker.feed('{"x": 2}')
    with pytest.warns(DeprecationWarning, match="flush"):
        assert tracker.close() == Point(x=2)  # type: ignore[deprecated]
