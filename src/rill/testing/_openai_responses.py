"""The OpenAI Responses API, encoded from a ``Script`` (sans-IO).

The frames follow the real wire format (compare
``../shared/fixtures/wire/openai-responses``): ``event: <type>`` then
``data: <compact JSON>`` whose ``type`` repeats it, a ``sequence_number`` on
every event from 0, no ``[DONE]``. A reply streams as output items in this
order: a reasoning item (its text as one summary part, with an
``encrypted_content`` when ``include`` asks for it), a message item (output
text, then a refusal part), one function-call item per tool call; the stream
ends with ``response.completed``, or ``response.incomplete`` for a reply whose
finish reason is ``length`` or ``content_filter``. Every ``response`` object
carries ``"error": null``, as the API's do.

``GET /responses/{id}`` answers too (``retrieves``): with ``stream=true`` it
replays the script's stream from the event after ``starting_after``, as a
background response is resumed; without, it returns the response object.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from ._intent import Intent, forced_function, function_tools, text_of
from ._openai_chat import OpenAIChatEncoder
from ._script import RecordedRequest, Reply, Script, fixed_pieces, split_pieces

__all__ = ["ResponsesEncoder"]

_ARGUMENT_PIECE = 4  # characters per function-call arguments delta
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
_LOGPROBS = "message.output_text.logprobs"
_ENCRYPTED = "reasoning.encrypted_content"

_Events = list[tuple[str, dict[str, Any]]]


class ResponsesEncoder:
    """Encodes scripts for ``POST .../responses`` and ``GET .../responses/{id}``."""

    retrieves = True
    protocol = "OpenAI Responses"
    base_path = "/v1"
    routes = (re.compile(r"(/openai)?/v1/responses(/[^/]+)?"),)

    def validate(self, request: RecordedRequest) -> str | None:
        """OpenAI's message for a request it would refuse with a 400, or None."""
        if request.method == "GET":
            return None
        params = request.json
        if not isinstance(params, dict):
            return "The request body must be a JSON object."
        if not isinstance(params.get("model"), str) or not params["model"]:
            return "Missing required parameter: 'model'."
        if not isinstance(params.get("input", ""), str | list):
            return "Invalid type for 'input': expected a string or an array of input items."
        return None

    def intent(self, request: RecordedRequest) -> Intent:
        params = request.params
        given = params.get("input")
        items = [i for i in given if isinstance(i, dict)] if isinstance(given, list) else []
        users = [i for i in items if i.get("role") == "user"]
        prompt = (
            given if isinstance(given, str) else text_of(users[-1].get("content")) if users else ""
        )
        fmt = (params.get("text") or {}).get("format") or {}
        schema = fmt.get("schema") if fmt.get("type") == "json_schema" else None
        return Intent(
            model=str(params.get("model") or ""),
            prompt=prompt,
            tools=function_tools(params.get("tools")),
            forced_tool=forced_function(params.get("tool_choice")),
            schema=schema if isinstance(schema, dict) else None,
            json=fmt.get("type") == "json_object",
            reasoning=isinstance(params.get("reasoning"), dict),
            answering_tool=bool(items) and items[-1].get("type") == "function_call_output",
        )

    def wants_stream(self, request: RecordedRequest) -> bool:
        if request.method == "GET":
            return request.query.get("stream") == "true"
        return isinstance(request.json, dict) and request.json.get("stream") is True

    def stream(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> list[bytes]:
        """The SSE frames of a streamed response, one event each."""
        events = _Response(script, request, seq, created).events()
        after = _starting_after(request)
        frames = []
        for number, (kind, fields) in enumerate(events):
            if number <= after:
                continue
            event = {"type": kind, "sequence_number": number, **fields}
            frames.append(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n")
        return frames

    def complete(
        self, script: Script, request: RecordedRequest, *, seq: int, created: int
    ) -> bytes:
        """The JSON body of a non-streamed response (or of a retrieved one)."""
        return orjson.dumps(_Response(script, request, seq, created).final())

    def error(self, status: int, message: str) -> bytes:
        """An OpenAI-style error body for ``status``."""
        return OpenAIChatEncoder().error(status, message)


def _starting_after(request: RecordedRequest) -> int:
    if request.method != "GET":
        return -1
    try:
        return int(request.query.get("starting_after", "-1"))
    except ValueError:
        return -1


class _Response:
    """One scripted response: its output items, events and final object."""

    def __init__(self, script: Script, request: RecordedRequest, seq: int, created: int) -> None:
        params = request.json if isinstance(request.json, dict) else {}
        self.params = params
        self.reply: Reply = script.replies[0]  # the API has no n
        self.script = script
        self.created = created
        self.seq = seq
        if request.method == "GET":
            self.id = request.path.rpartition("/")[2]
        else:
            self.id = f"resp_rill{seq:06d}"
        model = script.model or params.get("model")
        self.model = model if isinstance(model, str) else "rill-emulator"
        include = params.get("include")
        self.include = include if isinstance(include, list) else []

    # ------------------------------------------------------------ the items

    def _item_id(self, prefix: str, n: int) -> str:
        return f"{prefix}_rill{self.seq:06d}{n:02d}"

    def _reasoning_item(self) -> dict[str, Any]:
        text = self.reply.reasoning
        item: dict[str, Any] = {
            "id": self._item_id("rs", 0),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": text}],
        }
        if _ENCRYPTED in self.include:
            item["encrypted_content"] = "rill" + base64.b64encode(text.encode()).decode()
        return item

    def _message_item(self, status: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if self.reply.text:
            content.append(_text_part(self.reply.text, self._logprobs(self.reply.text)))
        if self.reply.refusal:
            content.append({"type": "refusal", "refusal": self.reply.refusal})
        return {
            "id": self._item_id("msg", 1),
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    def _call_items(self) -> list[dict[str, Any]]:
        return [
            {
                "id": self._item_id("fc", 2 + n),
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments_json,
                "call_id": call.id or f"call_{n + 1}",
                "name": call.name,
            }
            for n, call in enumerate(self.reply.tool_calls)
        ]

    def _logprobs(self, text: str) -> list[dict[str, Any]]:
        if not (self.reply.logprobs and _LOGPROBS in self.include):
            return []
        return [_token_logprob(piece, n) for n, piece in enumerate(split_pieces(text))]

    # ---------------------------------------------------- the final object

    def _status(self) -> tuple[str, dict[str, Any] | None]:
        reason = _INCOMPLETE.get(self.reply.finish_reason or "")
        if reason is None:
            return "completed", None
        return "incomplete", {"reason": reason}

    def _object(self, status: str, output: list[Any], usage: Any) -> dict[str, Any]:
        params = self.params
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": params.get("instructions"),
            "max_output_tokens": params.get("max_output_tokens"),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": params.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": params.get("store", True),
            "temperature": params.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": params.get("tool_choice", "auto"),
            "tools": params.get("tools") or [],
            "top_p": params.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    def _output(self, status: str) -> list[dict[str, Any]]:
        output = []
        if self.reply.reasoning:
            output.append(self._reasoning_item())
        if self.reply.text or self.reply.refusal:
            output.append(self._message_item(status))
        output.extend(self._call_items())
        return output

    def final(self) -> dict[str, Any]:
        status, details = self._status()
        body = self._object(status, self._output(status), self._usage())
        body["incomplete_details"] = details
        return body

    # ----------------------------------------------------------- the events

    def events(self) -> _Events:
        reply = self.reply
        status, details = self._status()
        start = self._object("in_progress", [], None)
        events: _Events = [
            ("response.created", {"response": start}),
            ("response.in_progress", {"response": start}),
        ]
        output: list[dict[str, Any]] = []

        def item_events(item: dict[str, Any], body: _Events) -> None:
            index = len(output)
            added = {**item, "status": "in_progress"}
            if item["type"] == "message":
                added["content"] = []
            elif item["type"] == "function_call":
                added["arguments"] = ""
            elif item["type"] == "reasoning":
                added["summary"] = []
            where = {"item_id": item["id"], "output_index": index}
            events.append(("response.output_item.added", {"output_index": index, "item": added}))
            events.extend((kind, {**where, **fields}) for kind, fields in body)
            events.append(("response.output_item.done", {"output_index": index, "item": item}))
            output.append(item)

        if reply.reasoning:
            item = self._reasoning_item()
            part: dict[str, Any] = {"summary_index": 0}
            empty: dict[str, Any] = {"type": "summary_text", "text": ""}
            done: dict[str, Any] = {"type": "summary_text", "text": reply.reasoning}
            body: _Events = [("response.reasoning_summary_part.added", {**part, "part": empty})]
            body.extend(
                ("response.reasoning_summary_text.delta", {**part, "delta": piece})
                for piece in split_pieces(reply.reasoning)
            )
            body.append(("response.reasoning_summary_text.done", {**part, "text": reply.reasoning}))
            body.append(("response.reasoning_summary_part.done", {**part, "part": done}))
            item_events(item, body)
        if reply.text or reply.refusal:
            item = self._message_item(status)
            body = []
            for n, part in enumerate(item["content"]):
                where: dict[str, Any] = {"content_index": n}
                if part["type"] == "output_text":
                    empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
                    body.append(("response.content_part.added", {**where, "part": empty}))
                    lps = part["logprobs"]
                    for i, piece in enumerate(split_pieces(part["text"])):
                        delta = {**where, "delta": piece, "logprobs": lps[i : i + 1]}
                        body.append(("response.output_text.delta", delta))
                    done = {**where, "text": part["text"], "logprobs": lps}
                    body.append(("response.output_text.done", done))
                else:
                    empty = {"type": "refusal", "refusal": ""}
                    body.append(("response.content_part.added", {**where, "part": empty}))
                    body.extend(
                        ("response.refusal.delta", {**where, "delta": piece})
                        for piece in split_pieces(part["refusal"])
                    )
                    body.append(("response.refusal.done", {**where, "refusal": part["refusal"]}))
                body.append(("response.content_part.done", {**where, "part": part}))
            item_events(item, body)
        for item in self._call_items():
            arguments = item["arguments"]
            body = [
                ("response.function_call_arguments.delta", {"delta": piece})
                for piece in fixed_pieces(arguments, _ARGUMENT_PIECE)
            ]
            body.append(("response.function_call_arguments.done", {"arguments": arguments}))
            item_events(item, body)

        final = self._object(status, output, self._usage())
        final["incomplete_details"] = details
        kind = "response.completed" if details is None else "response.incomplete"
        events.append((kind, {"response": final}))
        return events

    # ---------------------------------------------------------------- usage

    def _usage(self) -> dict[str, Any] | None:
        spec = self.script.usage
        if spec is None or spec is False:
            return None
        reply = self.reply
        if spec is True:
            reasoning = len(split_pieces(reply.reasoning))
            output = (
                reasoning
                + len(split_pieces(reply.text))
                + len(split_pieces(reply.refusal))
                + sum(
                    len(fixed_pieces(c.arguments_json, _ARGUMENT_PIECE)) for c in reply.tool_calls
                )
            )
            prompt, cached = _input_words(self.params), 0
        elif len(spec) == 2:
            prompt, output = spec
            reasoning = cached = 0
        else:
            prompt, output, reasoning, cached = spec
        return {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt + output,
        }


def _text_part(text: str, logprobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": logprobs, "text": text}


def _token_logprob(piece: str, n: int) -> dict[str, Any]:
    """A made-up but deterministic log probability for one piece."""
    return {
        "bytes": list(piece.encode()),
        "logprob": round(-0.001 * (1 + n % 7), 6),
        "token": piece,
        "top_logprobs": [],
    }


def _input_words(params: dict[str, Any]) -> int:
    """Words in the request's instructions and input: a stand-in for input tokens."""
    words = 0
    texts: list[Any] = [params.get("instructions")]
    given = params.get("input")
    for item in given if isinstance(given, list) else [given]:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            content = item.get("content", item.get("output"))
            if isinstance(content, list):
                texts.extend(p.get("text") for p in content if isinstance(p, dict))
            else:
                texts.append(content)
    for text in texts:
        if isinstance(text, str):
            words += len(text.split())
    return words
