"""Model steps: a model string and default parameters, run through rill's
drivers (the sync one for ``invoke`` / ``stream`` / ``batch``, the async one
for the ``a`` methods), so a chain never starts an event loop of its own.

``ModelRunnable`` is generic over what differs between kinds of model: the
run type of its events, the pair of streaming functions it calls, how input
becomes a prompt, and what a chunk and the final output look like.
``ChatModel`` is the chat kind. A model whose provider cannot stream
(``Provider(streaming=False)``) is asked for the whole response; its stream
yields that one value, and its run has a start and an end event with no
stream events between (the end comes before the value is passed on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from .._async import agenerate_stream
from .._chunks import StreamChunk
from .._client import generate_stream
from .._errors import InvalidRequestError
from .._messages import Message, normalize_messages
from .._params import GenerationParams, validate_params
from .._request import RequestOptions
from .._response import GenerationResponse
from ..providers import resolve_model
from ._base import Runnable
from ._config import Context
from ._merge import merge_values
from ._prompt import PromptValue

__all__ = ["ChatModel", "ModelRunnable"]

C = TypeVar("C")

_OPTIONS = (
    frozenset(RequestOptions.__annotations__)
    - frozenset(GenerationParams.__annotations__)
    - {"model"}
)


class ModelRunnable(Runnable[Any, C], Generic[C]):
    """A model as a step. Subclasses set ``run_type``, ``stream_function`` /
    ``astream_function`` (called as ``fn(prompt, model=..., **options)``,
    returning a ``Stream`` / ``AsyncStream``), and override ``_prompt``,
    ``_start_input``, ``_chunk``, ``_output``, ``_v1_output`` and
    ``_check_defaults`` as needed."""

    run_type = "chat_model"
    stream_function: ClassVar[Callable[..., Any]]
    astream_function: ClassVar[Callable[..., Any]]

    def __init__(
        self,
        model: str,
        *,
        client: object | None = None,
        http_client: Any = None,
        async_http_client: Any = None,
        **defaults: Any,
    ) -> None:
        provider, model_id = resolve_model(model)
        self._check_defaults(defaults)
        if client is not None:
            # A client's methods carry the functions' names (generate_stream,
            # complete_stream, ...): calls go through them, with its cache,
            # limits, fallbacks and tracing.
            for fn in (type(self).stream_function, type(self).astream_function):
                if not callable(getattr(client, fn.__name__, None)):
                    raise InvalidRequestError(
                        f"client= must have a {fn.__name__}() method (a rill.Client), "
                        f"not {type(client).__name__}"
                    )
        self.model = model
        self.defaults = dict(defaults)
        self.client = client
        self.http_client = http_client
        self.async_http_client = async_http_client
        self.streaming = provider.streaming
        self._metadata: dict[str, Any] = {
            "ls_provider": provider.name,
            "ls_model_name": model_id,
            "ls_model_type": "chat" if self.run_type == "chat_model" else "llm",
        }
        if defaults.get("temperature") is not None:
            self._metadata["ls_temperature"] = defaults["temperature"]

    def bind(self, **kwargs: Any) -> ModelRunnable[C]:
        """A copy with more default parameters (``tools=``, ``stop=``, ...)."""
        return type(self)(
            self.model,
            client=self.client,
            http_client=self.http_client,
            async_http_client=self.async_http_client,
            **{**self.defaults, **kwargs},
        )

    # ------------------------------------------------------ what kinds differ in

    def _check_defaults(self, defaults: Mapping[str, Any]) -> None:
        """Reject a default parameter the call function does not take, at
        the constructor."""
        validate_params({k: v for k, v in defaults.items() if k not in _OPTIONS})

    def _prompt(self, input: Any) -> Any:
        return input

    def _check_input(self, input: Any) -> None:
        self._prompt(input)

    def _start_input(self, prompt: Any) -> Any:
        return prompt

    def _chunk(self, chunk: StreamChunk) -> C:
        raise NotImplementedError

    def _output(self, response: GenerationResponse) -> Any:
        return response

    def _v1_output(self, response: GenerationResponse) -> Any:
        return self._output(response)

    # ------------------------------------------------------------- running

    def _options(self, http_client: Any) -> dict[str, Any]:
        options = {"model": self.model, **self.defaults}
        if http_client is not None:
            options["http_client"] = http_client
        return options

    def _open(self, prompt: Any) -> Any:
        """The sync stream of one call: the function, or the client's method."""
        fn = type(self).stream_function
        if self.client is not None:
            fn = getattr(self.client, fn.__name__)
        return fn(prompt, **self._options(self.http_client))

    def _aopen(self, prompt: Any) -> Any:
        fn = type(self).astream_function
        if self.client is not None:
            fn = getattr(self.client, fn.__name__)
        return fn(prompt, **self._options(self.async_http_client))

    def _transform(self, inputs: Iterator[Any], ctx: Context) -> Iterator[C]:
        prompt = self._prompt(merge_values(list(inputs)))
        with self._open(prompt) as stream:
            for chunk in stream:
                yield self._chunk(chunk)

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[C]:
        prompt = self._prompt(merge_values([x async for x in inputs]))
        async with self._aopen(prompt) as stream:
            async for chunk in stream:
                yield self._chunk(chunk)

    def _run(self, inputs: Iterator[Any], ctx: Context) -> Iterator[C]:
        if ctx.tracer is None:
            return self._transform(inputs, ctx)
        return self._traced(inputs, ctx)

    def _arun(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[C]:
        if ctx.tracer is None:
            return self._atransform(inputs, ctx)
        return self._atraced(inputs, ctx)

    def _traced(self, inputs: Iterator[Any], ctx: Context) -> Iterator[C]:
        tracer = ctx.tracer
        assert tracer is not None
        value = merge_values(list(inputs))
        prompt = self._prompt(value)
        run = ctx.start(self.get_name(), self.run_type, self._metadata)
        shown = self._start_input(prompt)
        tracer.start(run, {"input": value if run.root else shown})
        try:
            with self._open(prompt) as stream:
                if self.streaming:
                    for raw in stream:
                        chunk = self._chunk(raw)
                        tracer.stream(run, chunk)
                        yield chunk
                    whole = None
                else:
                    whole = merge_values([self._chunk(raw) for raw in stream])
                response = stream.response
        except BaseException as exc:
            tracer.error(run, exc, shown)
            raise
        tracer.end(run, self._output(response), shown, self._v1_output(response))
        if whole is not None:
            yield whole

    async def _atraced(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[C]:
        tracer = ctx.tracer
        assert tracer is not None
        value = merge_values([x async for x in inputs])
        prompt = self._prompt(value)
        run = ctx.start(self.get_name(), self.run_type, self._metadata)
        shown = self._start_input(prompt)
        tracer.start(run, {"input": value if run.root else shown})
        try:
            async with self._aopen(prompt) as stream:
                if self.streaming:
                    async for raw in stream:
                        chunk = self._chunk(raw)
                        tracer.stream(run, chunk)
                        yield chunk
                    whole = None
                else:
                    whole = merge_values([self._chunk(raw) async for raw in stream])
                response = stream.response
        except BaseException as exc:
            tracer.error(run, exc, shown)
            raise
        tracer.end(run, self._output(response), shown, self._v1_output(response))
        if whole is not None:
            yield whole

    def __repr__(self) -> str:
        shown = "".join(f", {k}={v!r}" for k, v in self.defaults.items() if k != "api_key")
        return f"{type(self).__name__}({self.model!r}{shown})"


class ChatModel(ModelRunnable[StreamChunk]):
    """A chat model as a runnable: ``ChatModel("openai/gpt-4o-mini",
    temperature=0)``.

    Keyword arguments are the defaults of every call (any parameter of
    :func:`rill.generate_stream`: ``temperature``, ``max_tokens``, ``tools``,
    ``timeout``, ``max_retries``, ``base_url``, ...); ``http_client`` /
    ``async_http_client`` are the HTTP clients of the sync and async calls.
    Input is a string, a list of messages, or a :class:`PromptValue`.
    ``stream`` yields :class:`StreamChunk` values (which add up with ``+``);
    ``invoke`` returns the :class:`GenerationResponse`.
    """

    stream_function = staticmethod(generate_stream)
    astream_function = staticmethod(agenerate_stream)

    def _prompt(self, input: Any) -> tuple[Message, ...]:
        if isinstance(input, PromptValue):
            return input.messages
        if isinstance(input, Message):
            return (input,)
        if isinstance(input, GenerationResponse):
            return (input.to_message(),)
        if isinstance(input, str) or (
            isinstance(input, Sequence) and not isinstance(input, bytes | Mapping)
        ):
            return normalize_messages(input)
        raise InvalidRequestError(
            f"a chat model takes a string, a list of messages or a PromptValue, "
            f"not {type(input).__name__}"
        )

    def _start_input(self, prompt: tuple[Message, ...]) -> Any:
        return {"messages": [list(prompt)]}

    def _chunk(self, chunk: StreamChunk) -> StreamChunk:
        return chunk

    def _v1_output(self, response: GenerationResponse) -> Any:
        generation = {
            "text": response.content,
            "generation_info": None,
            "type": "ChatGenerationChunk",
            "message": response,
        }
        return {"generations": [[generation]], "llm_output": None}
