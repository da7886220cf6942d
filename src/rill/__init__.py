"""rill: stream LLM output from every major provider through one small, fast, typed API.

import rill

for chunk in rill.generate_stream("Hi", model="openai/gpt-4o-mini"):
    print(chunk.content, end="", flush=True)
"""

from typing import TYPE_CHECKING, Any

from ._async import (
    AsyncStream,
    acomplete,
    acomplete_stream,
    agenerate,
    agenerate_stream,
    aresume_stream,
)
from ._chunks import StreamChunk, ToolCallDelta
from ._client import Stream, complete, complete_stream, generate, generate_stream, resume_stream
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
from ._params import CompletionParams, GenerationParams, Mode, Timeouts
from ._response import Choice, GenerationResponse, Timing, ToolCall, Usage
from .providers import Provider, register_provider

if TYPE_CHECKING:
    from ._cache import Cache, MemoryCache, SQLiteCache
    from ._client_object import Client
    from ._cost import Cost, CostTracker, Price
    from ._ratelimit import RateLimit
    from .runnables import (
        LLM,
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


# The client and what it holds (sqlite3, hashing) and the runnables (not
# needed to stream) load on first use too: name -> home module.
_LAZY_HOMES = {
    "Cache": "._cache",
    "Client": "._client_object",
    "Cost": "._cost",
    "CostTracker": "._cost",
    "MemoryCache": "._cache",
    "Price": "._cost",
    "RateLimit": "._ratelimit",
    "SQLiteCache": "._cache",
    "CallbackHandler": ".runnables",
    "ChatModel": ".runnables",
    "ItemsParser": ".runnables",
    "JsonParser": ".runnables",
    "LLM": ".runnables",
    "Placeholder": ".runnables",
    "PromptValue": ".runnables",
    "PydanticParser": ".runnables",
    "Runnable": ".runnables",
    "RunnableLambda": ".runnables",
    "RunnableParallel": ".runnables",
    "RunnableSequence": ".runnables",
    "TextParser": ".runnables",
    "dispatch_event": ".runnables",
    "prompt": ".runnables",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import structured

        value = getattr(structured, name)
        globals()[name] = value
        return value
    home = _LAZY_HOMES.get(name)
    if home is not None:
        import importlib

        value = getattr(importlib.import_module(home, __name__), name)
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
    "Cache",
    "CallbackHandler",
    "ChatModel",
    "Choice",
    "Client",
    "CompletionParams",
    "ConfigurationError",
    "ConnectError",
    "Cost",
    "CostTracker",
    "GenerationParams",
    "GenerationResponse",
    "HeuristicCounter",
    "IncompleteStreamError",
    "InvalidModelError",
    "InvalidRequestError",
    "ItemsParser",
    "JsonParser",
    "JsonStreamError",
    "LLM",
    "MemoryCache",
    "Message",
    "MessageRole",
    "MissingAPIKeyError",
    "Mode",
    "ModelName",
    "NotFoundError",
    "ObjectStream",
    "Placeholder",
    "Price",
    "Progress",
    "PromptValue",
    "ProtocolError",
    "Provider",
    "ProviderStreamError",
    "PydanticParser",
    "RateLimit",
    "RateLimitError",
    "RedirectError",
    "RemoteError",
    "RillError",
    "Runnable",
    "RunnableLambda",
    "RunnableParallel",
    "RunnableSequence",
    "SQLiteCache",
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
    "acomplete",
    "acomplete_stream",
    "agenerate",
    "agenerate_object",
    "agenerate_stream",
    "aresume_stream",
    "astream_items",
    "astream_object",
    "astream_patches",
    "complete",
    "complete_stream",
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
