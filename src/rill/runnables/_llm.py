"""A text-completion model as a step: ``rill.LLM("openai/gpt-3.5-turbo-instruct")``.

The chat model's twin over ``rill.complete_stream`` (the ``/completions``
API): its input is a string or a prompt value rendered to one, its stream
yields ``str`` pieces, ``invoke`` returns the whole text, and its events are
``on_llm_start`` / ``on_llm_stream`` / ``on_llm_end``, as LangChain's LLMs
emit them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._async import acomplete_stream
from .._chunks import StreamChunk
from .._client import complete_stream
from .._completion import completion_option_names
from .._errors import InvalidRequestError
from .._params import validate_completion_params
from .._response import GenerationResponse
from ._model import ModelRunnable
from ._prompt import PromptValue

__all__ = ["LLM"]


class LLM(ModelRunnable[str]):
    """A text-completion model as a runnable: ``LLM("vllm/Qwen/Qwen2.5-Coder-7B",
    max_tokens=128)``.

    Keyword arguments are the defaults of every call (any parameter of
    :func:`rill.complete_stream`: ``max_tokens``, ``stop``, ``suffix``,
    ``temperature``, ``timeout``, ``base_url``, ...). Input is a string or a
    :class:`PromptValue` (rendered as text). ``stream`` yields ``str``
    pieces; ``invoke`` returns the completed text. One completion per call:
    ``n`` above 1 is refused, since the pieces of several would interleave.
    """

    run_type = "llm"
    stream_function = staticmethod(complete_stream)
    astream_function = staticmethod(acomplete_stream)

    def _check_defaults(self, defaults: Mapping[str, Any]) -> None:
        names = completion_option_names()
        params = validate_completion_params({k: v for k, v in defaults.items() if k not in names})
        if params.get("n", 1) != 1:
            raise InvalidRequestError(
                "an LLM step streams one completion: leave n at 1 "
                "(rill.complete(..., n=...) returns several)"
            )

    def _prompt(self, input: Any) -> str:
        if isinstance(input, PromptValue):
            return input.to_string()
        if isinstance(input, str):
            return input
        raise InvalidRequestError(
            f"an LLM takes a string or a PromptValue, not {type(input).__name__}"
        )

    def _start_input(self, prompt: str) -> Any:
        return {"prompts": [prompt]}

    def _chunk(self, chunk: StreamChunk) -> str:
        return chunk.content

    def _output(self, response: GenerationResponse) -> str:
        return response.content

    def _v1_output(self, response: GenerationResponse) -> Any:
        generation = {"text": response.content, "generation_info": None, "type": "Generation"}
        return {"generations": [[generation]], "llm_output": None}
