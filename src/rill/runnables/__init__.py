"""Runnables: steps with one interface (``invoke``, ``stream``, ``batch``,
their async forms, ``astream_events``), composed with ``|``.

    chat = rill.ChatModel("openai/gpt-4o-mini")
    chain = rill.prompt("Tell me about {topic}") | chat | rill.TextParser()
    for text in chain.stream({"topic": "goldfish"}):
        print(text, end="")

Events follow LangChain's ``astream_events`` schema (v1 and v2), so code
written for it reads rill's events unchanged.
"""

from ._base import Runnable, coerce
from ._callbacks import CallbackHandler
from ._compose import RunnableLambda, RunnableParallel, RunnableSequence
from ._config import RunConfig, dispatch_event
from ._events import EventFilter, Run, Tracer
from ._llm import LLM
from ._model import ChatModel, ModelRunnable
from ._parsers import ItemsParser, JsonParser, PydanticParser, TextParser
from ._prompt import Placeholder, PromptTemplate, PromptValue, prompt
from ._wrappers import RunnableRetry, RunnableWithConfig, RunnableWithFallbacks

__all__ = [
    "CallbackHandler",
    "ChatModel",
    "EventFilter",
    "ItemsParser",
    "JsonParser",
    "LLM",
    "ModelRunnable",
    "Placeholder",
    "PromptTemplate",
    "PromptValue",
    "PydanticParser",
    "Run",
    "RunConfig",
    "Runnable",
    "RunnableLambda",
    "RunnableParallel",
    "RunnableRetry",
    "RunnableSequence",
    "RunnableWithConfig",
    "RunnableWithFallbacks",
    "TextParser",
    "Tracer",
    "coerce",
    "dispatch_event",
    "prompt",
]
