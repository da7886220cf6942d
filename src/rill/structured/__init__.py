"""Structured streaming: incremental JSON to a live partial document.

``JsonStreamParser`` turns text chunks into path ops, ``Assembler`` applies them
to one live document, and ``to_patches`` / ``apply_patches`` carry the same ops
to a browser as JSON-patch-like dicts. All of it is sans-IO and linear in the
size of the input, however it is chunked.

The pydantic layer (``ObjectTracker``, ``partial_model``, ``progress``, ...)
is imported on first use, so the JSON layer works without pydantic.

Schemas are pydantic model classes: ``dict``, ``list[int]``, a dataclass or
any other type is refused at the call (``InvalidRequestError``, before any
I/O), as partial objects and progress are built from a model's fields; wrap
such a type in a one-field model. ``stream_items`` takes any item type
pydantic validates. In ``json_schema`` and ``tool`` modes anything after the
one JSON value is a ``StructuredValidationError`` (see ``_modes``).
"""

from typing import TYPE_CHECKING, Any

from ._assembler import Assembler
from ._ops import (
    AppendString,
    Close,
    Op,
    Path,
    Scalar,
    SetScalar,
    StartArray,
    StartObject,
    StartString,
    coalesce,
)
from ._parser import JsonStreamError, JsonStreamParser
from ._patches import apply_patch, apply_patches, to_patches, to_pointer

if TYPE_CHECKING:
    from ._partial import (
        ObjectTracker,
        PartialBase,
        Progress,
        StructuredValidationError,
        build_partial,
        partial_model,
        progress,
        validate_final,
    )
    from ._streams import (
        AsyncObjectStream,
        ObjectStream,
        StructuredOptions,
        agenerate_object,
        astream_items,
        astream_object,
        astream_patches,
        generate_object,
        stream_items,
        stream_object,
        stream_patches,
    )

__all__ = [
    "AppendString",
    "Assembler",
    "AsyncObjectStream",
    "Close",
    "JsonStreamError",
    "JsonStreamParser",
    "ObjectStream",
    "ObjectTracker",
    "Op",
    "PartialBase",
    "Path",
    "Progress",
    "Scalar",
    "SetScalar",
    "StartArray",
    "StartObject",
    "StartString",
    "StructuredOptions",
    "StructuredValidationError",
    "agenerate_object",
    "apply_patch",
    "apply_patches",
    "astream_items",
    "astream_object",
    "astream_patches",
    "build_partial",
    "coalesce",
    "generate_object",
    "partial_model",
    "progress",
    "stream_items",
    "stream_object",
    "stream_patches",
    "to_patches",
    "to_pointer",
    "validate_final",
]

_STREAM_NAMES = frozenset(
    {
        "AsyncObjectStream",
        "ObjectStream",
        "StructuredOptions",
        "agenerate_object",
        "astream_items",
        "astream_object",
        "astream_patches",
        "generate_object",
        "stream_items",
        "stream_object",
        "stream_patches",
    }
)

_PARTIAL_NAMES = frozenset(
    {
        "ObjectTracker",
        "PartialBase",
        "Progress",
        "StructuredValidationError",
        "build_partial",
        "partial_model",
        "progress",
        "validate_final",
    }
)


def __getattr__(name: str) -> Any:
    if name in _PARTIAL_NAMES:
        from . import _partial

        return getattr(_partial, name)
    if name in _STREAM_NAMES:
        from . import _streams

        return getattr(_streams, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
