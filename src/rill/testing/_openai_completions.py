"""OpenAI text completions (``POST .../completions``), encoded from a
``Script`` (sans-IO).

Like the real endpoint (compare ``../shared/fixtures/wire/openai-other``):
``data: <compact JSON>\\n\\n`` frames of ``"object": "text_completion"``
chunks whose choices carry ``text`` (no ``delta``), ``index``, ``logprobs``
and ``finish_reason``, the last of which comes on the chunk with a choice's
last text (no empty finish chunk); ``model`` after ``choices``; a usage chunk
with ``"choices": []`` only when ``stream_options.include_usage`` asks;
``[DONE]`` at the end.

What the request asks for shapes the answer: several prompts give ``n``
choices each, numbered ``prompt * n + j`` and interleaved; ``echo`` sends a
choice's prompt as its first text; an integer ``logprobs`` adds each token's
log probability with that many alternatives (made up but deterministic), in
the four parallel lists of the API. One scripted reply answers every choice;
several replies answer the choices in turn.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ._intent import Intent, text_of
from ._openai_chat import OpenAIChatEncoder, _interleave
from ._script import RecordedRequest, Reply, Script, answering_model, split_pieces

__all__ = ["OpenAICompletionsEncoder"]

_DONE = b"data: [DONE]\n\n"
_ALTERNATIVES = (" the", " a", ",", ".", " and", "\n")


class OpenAICompletionsEncoder(OpenAIChatEncoder):
    """Encodes scripts for ``POST .../completions`` (errors and the choice of
    streaming are Chat Completions')."""

    protocol = "OpenAI text completions"
    base_path = "/v1"
    routes = (
        re.compile(r"(/openai|/api|/inference)?/v1/completions"),
        re.compile(r"/openai/deployments/[^/]+/completions"),
    )

    def validate(self, request: RecordedRequest) -> str | None:
        """OpenAI's message for a request it would refuse with a 400, or None."""
        params = request.json
        if not isinstance(params, dict):
            return "The request body must be a JSON object."
        if not isinstance(params.get("model"), str) or not params["model"]:
            return "you must provide a model parameter"
        prompt = params.get("prompt")
        texts = prompt if isinstance(prompt, list) else [prompt]
        if not texts or not all(isinstance(t, str) for t in texts):
            return "'prompt' must be a string or an array of strings."
        return None

    def intent(self, request: RecordedRequest) -> Intent:
        params = request.params
        prompt = params.get("prompt")
        last = prompt[-1] if isinstance(prompt, list) and prompt else prompt
        return Intent(model=str(params.get("model") or ""), prompt=text_of(last))

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """The SSE frames of a streamed response, one choice per event."""
        params = request.params
        model = answering_model(script, params.get("model"))
        head = orjson.dumps(
            {"id": _response_id(seq), "object": "text_completion", "created": created}
        )
        prefix = b"data: " + head[:-1] + b',"choices":['
        tail = b'],"model":' + orjson.dumps(model) + b"}\n\n"
        per_choice = [
            [_choice(c.index, text, lp, finish) for text, lp, finish in c.events()]
            for c in _choices(script, params)
        ]
        frames = [prefix + orjson.dumps(event) + tail for event in _interleave(per_choice)]
        stream_options = params.get("stream_options")
        if isinstance(stream_options, dict) and stream_options.get("include_usage") is True:
            usage = _usage(script, params)
            if usage is not None:
                frames.append(
                    prefix + b'],"model":' + orjson.dumps(model) + b',"usage":'
                    + orjson.dumps(usage) + b"}\n\n"
                )  # fmt: skip
        frames.append(_DONE)
        return frames

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The JSON body of a non-streamed response."""
        params = request.params
        choices = []
        for choice in _choices(script, params):
            events = choice.events()
            columns: dict[str, list[Any]] | None = None
            if choice.top is not None:
                columns = {
                    "tokens": [],
                    "token_logprobs": [],
                    "top_logprobs": [],
                    "text_offset": [],
                }
                for _, lp, _ in events:
                    for key, values in columns.items():
                        values.extend(lp[key] if lp else ())
            text = "".join(text for text, _, _ in events)
            choices.append(
                _choice(choice.index, text, columns, choice.reply.effective_finish_reason)
            )
        body: dict[str, Any] = {
            "id": _response_id(seq),
            "object": "text_completion",
            "created": created,
            "model": answering_model(script, params.get("model")),
            "choices": choices,
        }
        usage = _usage(script, params)
        if usage is not None:
            body["usage"] = usage
        return orjson.dumps(body)


class _Choice:
    """One choice: which prompt it completes, with which reply."""

    def __init__(self, index: int, prompt: str, reply: Reply, echo: bool, top: int | None) -> None:
        self.index = index
        self.prompt = prompt
        self.reply = reply
        self.echo = echo
        self.top = top

    def events(self) -> list[tuple[str, dict[str, Any] | None, str | None]]:
        """``(text, logprobs, finish_reason)`` of each chunk of this choice;
        the last carries the finish reason."""
        out: list[tuple[str, dict[str, Any] | None, str | None]] = []
        if self.echo:
            pieces = split_pieces(self.prompt)
            out.append((self.prompt, self._logprobs(pieces, 0, echoed=True), None))
        offset = len(self.prompt)  # offsets count from the start of the prompt
        for n, piece in enumerate(split_pieces(self.reply.text) or [""]):
            out.append((piece, self._logprobs([piece], offset, first=n), None))
            offset += len(piece)
        text, lp, _ = out[-1]
        out[-1] = (text, lp, self.reply.effective_finish_reason)
        return out

    def _logprobs(
        self, pieces: list[str], offset: int, *, first: int = 0, echoed: bool = False
    ) -> dict[str, Any] | None:
        if self.top is None:
            return None
        values: list[float | None] = []
        tops: list[dict[str, float] | None] = []
        offsets = []
        for n, piece in enumerate(pieces):
            value = round(-0.01 * (1 + (first + n) % 7), 6)
            if echoed and n == 0:  # nothing precedes the first prompt token
                values.append(None)
                tops.append(None)
            else:
                values.append(value)
                alternatives = [a for a in _ALTERNATIVES if a != piece][: max(self.top - 1, 0)]
                top = {piece: value} if self.top else {}
                top.update({a: round(value - 1.0 - i, 6) for i, a in enumerate(alternatives)})
                tops.append(top)
            offsets.append(offset)
            offset += len(piece)
        return {
            "tokens": pieces,
            "token_logprobs": values,
            "top_logprobs": tops,
            "text_offset": offsets,
        }


def _choices(script: Script, params: dict[str, Any]) -> list[_Choice]:
    prompts = _prompts(params)
    n = params.get("n")
    n = n if isinstance(n, int) and n > 0 else 1
    logprobs = params.get("logprobs")
    top = logprobs if isinstance(logprobs, int) and not isinstance(logprobs, bool) else None
    echo = params.get("echo") is True
    replies = script.replies
    return [
        _Choice(i, prompts[i // n], replies[i % len(replies)], echo, top)
        for i in range(len(prompts) * n)
    ]


def _prompts(params: dict[str, Any]) -> list[str]:
    """The request's prompts (token ids count as one empty prompt)."""
    prompt = params.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    return [""]


def _choice(index: int, text: str, logprobs: Any, finish: str | None) -> dict[str, Any]:
    return {"text": text, "index": index, "logprobs": logprobs, "finish_reason": finish}


def _response_id(seq: int) -> str:
    return f"cmpl-rill{seq:06d}"


def _usage(script: Script, params: dict[str, Any]) -> dict[str, Any] | None:
    spec = script.usage
    if spec is None or spec is False:
        return None
    if spec is True:
        prompt = sum(len(p.split()) for p in _prompts(params))
        completion = sum(len(split_pieces(c.reply.text)) for c in _choices(script, params))
    else:
        prompt, completion = spec[0], spec[1]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
