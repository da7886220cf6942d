"""OpenAI chat-completion stream bodies with exactly the given text pieces."""

from __future__ import annotations

import orjson


def openai_body(pieces: list[str], model: str = "m") -> bytes:
    frames = []
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model}

    def frame(delta: dict[str, object], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"

    for piece in pieces:
        frames.append(frame({"content": piece}))
    frames.append(frame({}, "stop"))
    frames.append(b"data: [DONE]\n\n")
    return b"".join(frames)
