"""OpenAI text completions (``POST /completions``): a prompt in, text out,
spoken by OpenAI (``gpt-3.5-turbo-instruct``, ``davinci-002``) and by most
OpenAI-compatible servers (vLLM, llama.cpp, Ollama's ``/v1``, LM Studio,
Together, Fireworks, OpenRouter, ...).

The stream is Chat Completions' envelope (``_openai_stream``) around choices
that carry ``text`` instead of a ``delta``. What differs:

- Several prompts in one request: choice ``i * n + j`` is the ``j``-th of
  the ``n`` completions of prompt ``i``; they interleave in the stream.
- OpenAI puts ``finish_reason`` on the chunk with the last text (no empty
  finish chunk); vLLM adds ``stop_reason``, the stop string (or token id)
  that ended the choice, which rill keeps as ``native_finish_reason``.
- ``logprobs`` is an integer in the request (how many alternatives per
  token) and, in each chunk, four parallel lists (``tokens``,
  ``token_logprobs``, ``top_logprobs``, ``text_offset``). rill turns them
  into one entry per token, ``{"token", "logprob", "top_logprobs",
  "text_offset"}``, with the provider's values, so they accumulate like chat
  logprobs do.
- ``best_of`` greater than 1 cannot be streamed: the request then asks for
  the whole response, which arrives as one chunk per choice.
"""

from __future__ import annotations

from typing import Any

from .._chunks import StreamChunk, text_chunk
from .._errors import InvalidRequestError
from .._response import Usage
from ._base import Call
from ._openai_stream import OpenAIStreamDecoder, whole_response
from ._param_support import ParamTable, render_params

__all__ = ["OpenAICompletionsCodec", "OpenAICompletionsDecoder", "completion_choices"]


def _logprobs(body: dict[str, Any], value: bool, call: Call) -> None:
    # Alone (no count of alternatives), it asks for the chosen token's only.
    if value and call.params.top_logprobs is None:
        body["logprobs"] = 0


# The endpoint's own names; its count ``logprobs`` is ``Params.top_logprobs``.
_COMPLETION_PARAMS: ParamTable = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "n": "n",
    "best_of": "best_of",
    "stop": "stop",
    "seed": "seed",
    "echo": "echo",
    "suffix": "suffix",
    "logprobs": _logprobs,
    "top_logprobs": "logprobs",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "logit_bias": "logit_bias",
    "user": "user",
}


class OpenAICompletionsCodec:
    """Builds ``/completions`` requests from a call's prompts and decodes
    their responses."""

    name = "openai-completions"
    supported_params = _COMPLETION_PARAMS

    def path(self, call: Call) -> str:
        return "/completions"

    def build_body(self, call: Call) -> dict[str, Any]:
        prompts = call.prompt
        if prompts is None:
            raise InvalidRequestError("a text completion needs a prompt (use rill.complete)")
        body: dict[str, Any] = {
            "model": call.model,
            "prompt": prompts[0] if len(prompts) == 1 else list(prompts),
        }
        render_params(self, call, body)
        if call.stream:
            body["stream"] = True
            if call.stream_usage:
                body["stream_options"] = {"include_usage": True}
        body.update(call.extra_body)
        return body

    def stream_decoder(self, call: Call) -> OpenAICompletionsDecoder:
        return OpenAICompletionsDecoder(
            completion_choices(call), call.provider, max_event_bytes=call.max_event_bytes
        )

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return whole_response(body, call.provider or self.name, _whole_choice)


def completion_choices(call: Call) -> int:
    """How many choices a response to ``call`` has: ``n`` per prompt."""
    return call.n * max(1, len(call.prompt or ()))


class OpenAICompletionsDecoder(OpenAIStreamDecoder):
    """Per-response decoder: SSE bytes -> ``StreamChunk`` per choice's text."""

    __slots__ = ()

    def _choices(
        self,
        obj: dict[str, Any],
        choices: Any,
        usage: Usage | None,
        model: str | None,
        rid: str | None,
        data: bytes,
        out: list[StreamChunk],
    ) -> None:
        single = len(choices) == 1
        for choice in choices:
            text = choice.get("text")
            native = choice.get("finish_reason")
            if native is None and text.__class__ is str and not choice.get("logprobs"):
                # The common case: one text piece and nothing else; raw stays bytes.
                out.append(
                    text_chunk(
                        text, choice.get("index", 0), usage, model, rid, data if single else obj
                    )
                )
            else:
                index = choice.get("index", 0)
                if native:
                    self._finished.add(index)
                out.append(_choice_chunk(choice, index, usage, model, rid, obj))
            usage = None  # reported once, on the first choice's chunk

    def _decode_whole(self, body: bytes) -> list[StreamChunk]:
        return whole_response(body, self._provider, _whole_choice)


def _whole_choice(
    choice: dict[str, Any],
    position: int,
    usage: Usage | None,
    model: str | None,
    rid: str | None,
    obj: dict[str, Any],
) -> StreamChunk:
    return _choice_chunk(choice, choice.get("index", position), usage, model, rid, obj)


def _choice_chunk(
    choice: dict[str, Any],
    index: Any,
    usage: Usage | None,
    model: str | None,
    rid: str | None,
    obj: dict[str, Any],
) -> StreamChunk:
    native = choice.get("finish_reason") or None
    return StreamChunk(
        content=choice.get("text") or "",
        finish_reason=native,
        index=index,
        usage=usage,
        model=model,
        id=rid,
        logprobs=token_logprobs(choice.get("logprobs")),
        raw=obj,
        native_finish_reason=_native_reason(native, choice.get("stop_reason")),
    )


def _native_reason(finish: str | None, stop_reason: Any) -> str | None:
    """vLLM's ``stop_reason`` (the stop string, or the id of the stop token)
    says more than its ``finish_reason: "stop"``."""
    if finish is None or stop_reason is None:
        return finish
    if stop_reason.__class__ is int:
        return str(stop_reason)
    return stop_reason if stop_reason.__class__ is str else finish


def token_logprobs(logprobs: Any) -> list[Any] | None:
    """A chunk's columns of token logprobs as one entry per token (the
    provider's values: ``logprob`` is None for the first echoed token)."""
    if not isinstance(logprobs, dict):
        return None
    tokens = logprobs.get("tokens")
    if not tokens:
        return None
    values = logprobs.get("token_logprobs") or ()
    tops = logprobs.get("top_logprobs") or ()
    offsets = logprobs.get("text_offset") or ()
    return [
        {
            "token": token,
            "logprob": values[i] if i < len(values) else None,
            "top_logprobs": tops[i] if i < len(tops) else None,
            "text_offset": offsets[i] if i < len(offsets) else None,
        }
        for i, token in enumerate(tokens)
    ]
