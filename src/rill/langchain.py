"""A LangChain chat model backed by rill (the ``rill[langchain]`` extra).

    from rill.langchain import ChatRill
    chat = ChatRill(model="openai/gpt-4o-mini", temperature=0)
    chain = prompt | chat | StrOutputParser()   # an existing LangChain chain

Requests and streams go through rill's drivers (sync for ``invoke`` /
``stream``, async for ``ainvoke`` / ``astream``), so existing chains get
rill's wire handling by changing the model line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import orjson

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langchain_core.runnables import Runnable
    from pydantic import Field
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("rill.langchain needs langchain-core: pip install 'rill[langchain]'") from exc

from ._async import agenerate_stream
from ._chunks import StreamChunk
from ._client import generate_stream
from ._messages import Message
from ._response import ToolCall

__all__ = ["ChatRill"]

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def _messages(messages: list[BaseMessage]) -> list[Message]:
    out = []
    for m in messages:
        role = _ROLES.get(m.type, "user")
        content = m.content if isinstance(m.content, str) else list(m.content)
        calls = [
            ToolCall(id=c["id"] or "", name=c["name"], arguments=orjson.dumps(c["args"]).decode())
            for c in getattr(m, "tool_calls", None) or ()
        ]
        out.append(
            Message(
                role,  # type: ignore[arg-type]
                content,  # type: ignore[arg-type]
                tool_call_id=getattr(m, "tool_call_id", None),
                tool_calls=calls or None,
            )
        )
    return out


def _chunk(chunk: StreamChunk) -> ChatGenerationChunk:
    usage = None
    if chunk.usage is not None:
        usage = {
            "input_tokens": chunk.usage.prompt_tokens,
            "output_tokens": chunk.usage.completion_tokens,
            "total_tokens": chunk.usage.total_tokens,
        }
    message = AIMessageChunk(
        content=chunk.content,
        usage_metadata=usage,  # type: ignore[arg-type]
        tool_call_chunks=[
            {"index": d.index, "id": d.id, "name": d.name, "args": d.arguments}
            for d in chunk.tool_calls
        ],
        response_metadata={"finish_reason": chunk.finish_reason} if chunk.finish_reason else {},
    )
    return ChatGenerationChunk(message=message)


class ChatRill(BaseChatModel):
    """A LangChain ``BaseChatModel`` whose calls are made by rill.

    ``model`` is rill's ``"provider/model"``; other fields are passed to
    :func:`rill.generate_stream` (``temperature``, ``max_tokens``,
    ``base_url``, ``api_key``, ``timeout``, ...) through ``model_kwargs``
    or as keyword arguments."""

    model: str
    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        known = {"model", "model_kwargs", "callbacks", "tags", "metadata", "name"}
        extra = {k: data.pop(k) for k in list(data) if k not in known}
        data["model_kwargs"] = {**data.get("model_kwargs", {}), **extra}
        super().__init__(**data)

    @property
    def _llm_type(self) -> str:
        return "rill"

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        options = {"model": self.model, **self.model_kwargs, **kwargs}
        if stop:
            options["stop"] = stop
        return options

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with generate_stream(_messages(messages), **self._options(stop, kwargs)) as stream:
            response = stream.until_done()
        message = AIMessage(
            content=response.content,
            tool_calls=[
                {"name": c.name, "args": c.args or {}, "id": c.id, "type": "tool_call"}
                for c in response.tool_calls
            ],
            usage_metadata={
                "input_tokens": response.usage.prompt_tokens,
                "output_tokens": response.usage.completion_tokens,
                "total_tokens": response.usage.total_tokens,
            },
            response_metadata={"finish_reason": response.finish_reason, "model": response.model},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        """This model with ``tools`` (LangChain tools, pydantic models,
        functions or OpenAI-shaped dicts) offered on every call."""
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with generate_stream(_messages(messages), **self._options(stop, kwargs)) as stream:
            for chunk in stream:
                out = _chunk(chunk)
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.content, chunk=out)
                yield out

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        options = self._options(stop, kwargs)
        async with agenerate_stream(_messages(messages), **options) as stream:
            async for chunk in stream:
                out = _chunk(chunk)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.content, chunk=out)
                yield out
