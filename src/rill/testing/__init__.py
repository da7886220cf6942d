"""Test rill, and code built on rill, without a real provider.

``Emulator`` is an HTTP server on loopback that speaks provider protocols
(OpenAI Chat Completions, text completions and Responses, Anthropic, Gemini,
Ollama, Cohere)
and answers each request with a ``Script``: what the model says (``Reply``,
``ScriptedToolCall``), how fast, with which status, and which ``Fault`` to
inject. ``AutoReply`` answers each request with a reply that fits it (a
tool call, JSON for a schema, reasoning for a reasoning model);
``load_scripts`` reads scripts from a JSON or YAML file. With pytest, the
``rill_emulator`` fixture yields a started one.

    with Emulator() as emu:
        emu.enqueue(Script.of_text("Hello there, world"))
        client = openai.OpenAI(base_url=emu.base_url, api_key="test")

Protocols, found by the request path: OpenAI Chat Completions
(``.../chat/completions``), OpenAI text completions (``.../completions``:
several prompts give ``n`` choices each, ``echo`` sends the prompt first, an
integer ``logprobs`` adds token log probabilities with that many
alternatives, ``stream_options.include_usage`` a usage chunk; one reply
answers every choice, several answer them in turn), OpenAI Responses
(``.../responses``), Anthropic Messages (``/v1/messages``), Gemini
(``:streamGenerateContent``, ``:generateContent``), Ollama (``/api/chat``,
``/api/generate``) and Cohere v2 (``/v2/chat``). Each is served streamed or
whole as the request asks, with the same pacing and ``Fault`` values.

The names load on first use: pytest imports this package for the fixture in
every project that has rill installed, and most test runs never need a server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._intent import AutoReply, Intent, ToolAsked
    from ._script import Fault, RecordedRequest, Reply, Script, ScriptedToolCall
    from ._scriptfile import ScriptFile, ScriptFileError, load_scripts
    from ._server import Emulator, Responder

__all__ = [
    "AutoReply",
    "Emulator",
    "Fault",
    "Intent",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Script",
    "ScriptFile",
    "ScriptFileError",
    "ScriptedToolCall",
    "ToolAsked",
    "load_scripts",
]

_HOMES = {
    "AutoReply": "._intent",
    "Intent": "._intent",
    "ToolAsked": "._intent",
    "Responder": "._server",
    "ScriptFile": "._scriptfile",
    "ScriptFileError": "._scriptfile",
    "load_scripts": "._scriptfile",
    "Emulator": "._server",
    "Fault": "._script",
    "RecordedRequest": "._script",
    "Reply": "._script",
    "Script": "._script",
    "ScriptedToolCall": "._script",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
