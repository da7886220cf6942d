"""rill: stream LLM output from every major provider through one small, fast, typed API.

import rill

for chunk in rill.generate_stream("Hi", model="openai/gpt-4o-mini"):
    print(chunk.content, end="", flush=True)
"""

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

__version__ = "0.1.0"

__all__ = [
    "APIStatusError",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "Choice",
    "ConfigurationError",
    "ConnectError",
    "GenerationParams",
    "GenerationResponse",
    "HeuristicCounter",
    "IncompleteStreamError",
    "InvalidModelError",
    "InvalidRequestError",
    "Message",
    "MessageRole",
    "MissingAPIKeyError",
    "ModelName",
    "NotFoundError",
    "ProtocolError",
    "Provider",
    "ProviderStreamError",
    "RateLimitError",
    "RemoteError",
    "RillError",
    "ServerError",
    "Stream",
    "StreamChunk",
    "StreamError",
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
    "agenerate_stream",
    "aresume_stream",
    "generate",
    "generate_stream",
    "register_provider",
    "resume_stream",
]
