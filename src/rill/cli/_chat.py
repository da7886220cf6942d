"""``rill chat``: one reply, or a conversation when there is no prompt and
stdin is a terminal.

Which model answers: ``-m`` if given; with only ``--base-url``, the first
model the server lists (an OpenAI-compatible ``/models``); with neither and
no ``OPENAI_API_KEY``, rill's emulator, said on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any, TextIO

from .. import _client
from .._errors import RillError
from .._messages import Message, MessageRole
from .._response import GenerationResponse
from ._render import LiveRenderer, PlainRenderer, Renderer, response_json
from ._stats import stats_lines

__all__ = ["DEFAULT_MODEL", "EMULATED_MODEL", "PROMPT", "choose_model", "run_chat"]

DEFAULT_MODEL = "openai/gpt-4o-mini"
EMULATED_MODEL = "emulator/openai/gpt-4o-mini"
PROMPT = "\u203a "  # a single right-pointing angle quotation mark
_HELP = "/exit or Ctrl-D leaves, /reset forgets the conversation, /model NAME switches model"


def choose_model(args: argparse.Namespace, err: TextIO) -> str:
    if args.model:
        return str(args.model)
    if args.base_url:
        return "openai/" + _listed_model(args.base_url)
    if not os.environ.get("OPENAI_API_KEY"):
        print(
            f"rill: no -m and no OPENAI_API_KEY: answering from rill's emulator ({EMULATED_MODEL})",
            file=err,
        )
        return EMULATED_MODEL
    return DEFAULT_MODEL


def _listed_model(base_url: str) -> str:
    """The first model an OpenAI-compatible server lists, else ``default``
    (llama.cpp answers whatever the name; vLLM and Ollama want theirs)."""
    import httpx

    try:
        listed = httpx.get(base_url.rstrip("/") + "/models", timeout=3.0).json()
        return str(listed["data"][0]["id"])
    except (httpx.HTTPError, ValueError, LookupError, TypeError):
        return "default"


def run_chat(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    interactive = args.prompt is None and stdin.isatty() and not args.json
    prompt = args.prompt
    if prompt is None and not interactive:
        prompt = stdin.read()
    if not interactive and not (prompt or "").strip():
        print("rill: empty prompt", file=err)
        return 2
    model = choose_model(args, err)
    renderer = _renderer(args, out, err)
    if not interactive:
        messages = [Message(role=MessageRole.USER, content=prompt)]
        response = _reply(messages, model, args, renderer, out)
        _after(response, args, out, err)
        return 0
    return _conversation(model, args, renderer, out, err, stdin)


def _renderer(args: argparse.Namespace, out: TextIO, err: TextIO) -> Renderer:
    if out.isatty() and not args.plain:
        from ._console import console

        return LiveRenderer(console(out), reasoning=args.reasoning)
    return PlainRenderer(out, err, reasoning=args.reasoning)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.temperature is not None:
        options["temperature"] = args.temperature
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.base_url:
        options["base_url"] = args.base_url
    return options


def _reply(
    messages: list[Message],
    model: str,
    args: argparse.Namespace,
    renderer: Renderer,
    out: TextIO,
) -> GenerationResponse:
    """Stream one reply through ``renderer`` (or silently, for ``--json``).
    Ctrl-C stops it cleanly: what arrived stays on screen, then the
    ``KeyboardInterrupt`` goes on to the caller."""
    stream = _client.generate_stream(messages, model=model, system=args.system, **_options(args))
    with stream:
        if args.json:
            for _ in stream:
                pass
            return stream.response
        renderer.start()
        try:
            for chunk in stream:
                renderer.feed(chunk)
        except KeyboardInterrupt:
            renderer.finish(interrupted=True)
            raise
        except BaseException:
            renderer.finish()
            raise
        renderer.finish()
        return stream.response


def _after(
    response: GenerationResponse, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    if args.json:
        out.write(response_json(response) + "\n")
        out.flush()
    if args.stats:
        lines = stats_lines(response)
        if err.isatty():
            from ._console import console

            console(err).print("\n".join(lines), style="dim", highlight=False)
        else:
            err.write("\n".join(lines) + "\n")
            err.flush()


def _conversation(
    model: str,
    args: argparse.Namespace,
    renderer: Renderer,
    out: TextIO,
    err: TextIO,
    stdin: TextIO,
) -> int:
    """A read-reply loop. History is kept for the session; Ctrl-C during a
    reply stops that reply, Ctrl-C at the prompt leaves (130), Ctrl-D or
    /exit leaves (0)."""
    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401  (line editing and history for input())
    history: list[Message] = []
    print(f"rill chat with {model}. {_HELP}.", file=err)
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            print(file=err)
            return 0
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return 0
        if text == "/reset":
            history.clear()
            print("(conversation forgotten)", file=err)
            continue
        if text == "/model" or text.startswith("/model "):
            name = text[len("/model") :].strip()
            if name:
                model = name
            print(f"(model: {model})", file=err)
            continue
        if text.startswith("/"):
            print(f"(unknown command {text.split()[0]}; {_HELP})", file=err)
            continue
        turn = [*history, Message(role=MessageRole.USER, content=text)]
        try:
            response = _reply(turn, model, args, renderer, out)
        except KeyboardInterrupt:
            continue
        except RillError as exc:
            print(f"rill: {type(exc).__name__}: {exc}", file=err)
            continue
        history = [*turn, response.to_message()]
        _after(response, args, out, err)
