"""rill: stream LLM output from every major provider through one small, fast, typed API.

import rill

for chunk in rill.generate_stream("Hi", model="openai/gpt-4o-mini"):
    print(chunk.content, end="", flush=True)
"""

from typing import TYPE_CHECKING, Any

from ._async import AsyncStream, agenerate, agenerate_stream, aresume_stream
from ._chunks import StreamChunk, ToolCallDelta
from ._client import Stream, generate, generate_stream, resume_stream
from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectError,
    IncompleteStreamError,
    InvalidModelError,
    InvalidRequestError,
    MissingAPIKeyError,
    NotFoundError,
    ProtocolError,
    ProviderStreamError,
    RateLimitError,
    RedirectError,
    RemoteError,
    RillError,
    ServerError,
    StreamError,
    TimeoutError,
    TransportError,
    UnknownProviderError,
)
from ._estimate import HeuristicCounter, TiktokenCounter, TokenCounter
from ._messages import Message, MessageRole
from ._models import ModelName
from ._params import GenerationParams, Timeouts
from ._response import Choice, GenerationResponse, Timing, ToolCall, Usage
from .providers import Provider, register_provider

if TYPE_CHECKING:
    from .runnables import (
        CallbackHandler,
        ChatModel,
        ItemsParser,
        JsonParser,
        Placeholder,
        PromptValue,
        PydanticParser,
        Runnable,
        RunnableLambda,
        RunnableParallel,
        RunnableSequence,
        TextParser,
        dispatch_event,
        prompt,
    )
    from .structured import (
        AsyncObjectStream,
        JsonStreamError,
        ObjectStream,
        Progress,
        StructuredValidationError,
        agenerate_object,
        astream_items,
        astream_object,
        astream_patches,
        generate_object,
        progress,
        stream_items,
        stream_object,
        stream_patches,
    )

# Structured streaming needs pydantic; it loads on first use so that
# ``import rill`` stays fast for code that only streams text.
_LAZY = frozenset(
    {
        "AsyncObjectStream",
        "JsonStreamError",
        "ObjectStream",
        "Progress",
        "StructuredValidationError",
        "agenerate_object",
        "astream_items",
        "astream_object",
        "astream_patches",
        "generate_object",
        "progress",
        "stream_items",
        "stream_object",
        "stream_patches",
    }
)


# Runnables load on first use too (they are not needed to stream).
_LAZY_RUNNABLES = frozenset(
    {
        "CallbackHandler",
        "ChatModel",
        "ItemsParser",
        "JsonParser",
        "Placeholder",
        "PromptValue",
        "PydanticParser",
        "Runnable",
        "RunnableLambda",
        "RunnableParallel",
        "RunnableSequence",
        "TextParser",
        "dispatch_event",
        "prompt",
    }
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import structured

        value = getattr(structured, name)
        globals()[name] = value
        return value
    if name in _LAZY_RUNNABLES:
        from . import runnables

        value = getattr(runnables, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rill' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "APIStatusError",
    "AsyncObjectStream",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "CallbackHandler",
    "ChatModel",
    "Choice",
    "ConfigurationError",
    "ConnectError",
    "GenerationParams",
    "GenerationResponse",
    "HeuristicCounter",
    "IncompleteStreamError",
    "InvalidModelError",
    "InvalidRequestError",
    "ItemsParser",
    "JsonParser",
    "JsonStreamError",
    "Message",
    "MessageRole",
    "MissingAPIKeyError",
    "ModelName",
    "NotFoundError",
    "ObjectStream",
    "Placeholder",
    "Progress",
    "PromptValue",
    "ProtocolError",
    "Provider",
    "ProviderStreamError",
    "PydanticParser",
    "RateLimitError",
    "RedirectError",
    "RemoteError",
    "RillError",
    "Runnable",
    "RunnableLambda",
    "RunnableParallel",
    "RunnableSequence",
    "ServerError",
    "Stream",
    "StreamChunk",
    "StreamError",
    "StructuredValidationError",
    "TextParser",
    "TiktokenCounter",
    "TimeoutError",
    "Timeouts",
    "Timing",
    "TokenCounter",
    "ToolCall",
    "ToolCallDelta",
    "TransportError",
    "UnknownProviderError",
    "Usage",
    "__version__",
    "agenerate",
    "agenerate_object",
    "agenerate_stream",
    "aresume_stream",
    "astream_items",
    "astream_object",
    "astream_patches",
    "dispatch_event",
    "generate",
    "generate_object",
    "generate_stream",
    "progress",
    "prompt",
    "register_provider",
    "resume_stream",
    "stream_items",
    "stream_object",
    "stream_patches",
]
