"""How a reply reaches the screen: live Markdown on a terminal, plain text in a pipe.

A renderer is pushed each chunk and told when the reply ends; it owns no I/O
beyond the files it was given. ``PlainRenderer`` writes the answer to stdout
as it arrives and the reasoning to stderr, so ``rill chat ... > file`` keeps
only the answer. ``LiveRenderer`` (rich, imported here and only here on the
chat path) redraws the reply as Markdown while it streams, with the reasoning
dimmed above it, and prints it whole once it ends; while it streams it shows
the tail that fits the window, so a long answer does not smear the scrollback.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol, TextIO

import orjson

from .._chunks import StreamChunk

__all__ = ["LiveRenderer", "PlainRenderer", "ReasoningMode", "Renderer"]

ReasoningMode = Literal["show", "collapse", "hide"]


class Renderer(Protocol):
    def start(self) -> None: ...
    def feed(self, chunk: StreamChunk) -> None: ...
    def finish(self, *, interrupted: bool = False) -> None: ...


class _Reply:
    """What has arrived so far, in the order a reader wants it."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, list[str]] = {}  # index -> [name, arguments...]
        self.started = time.perf_counter()
        self.thinking_ended: float | None = None

    def add(self, chunk: StreamChunk) -> None:
        if chunk.reasoning:
            self.reasoning.append(chunk.reasoning)
        if chunk.content:
            self.content.append(chunk.content)
            if self.thinking_ended is None:
                self.thinking_ended = time.perf_counter()
        if chunk.refusal:
            self.refusal.append(chunk.refusal)
        for delta in chunk.tool_calls or ():
            parts = self.calls.setdefault(delta.index, [""])
            if delta.name:
                parts[0] = delta.name
            if delta.arguments:
                parts.append(delta.arguments)

    def call_lines(self) -> list[str]:
        return [f"→ {parts[0]}({''.join(parts[1:])})" for _, parts in sorted(self.calls.items())]


class PlainRenderer:
    """Text as it arrives: the answer on ``out``, reasoning on ``err``."""

    def __init__(self, out: TextIO, err: TextIO, reasoning: ReasoningMode = "show") -> None:
        self._out, self._err, self._mode = out, err, reasoning
        self._reply = _Reply()
        self._reasoned = False

    def start(self) -> None:
        self._reply = _Reply()
        self._reasoned = False

    def feed(self, chunk: StreamChunk) -> None:
        self._reply.add(chunk)
        if chunk.reasoning and self._mode == "show":
            self._err.write(chunk.reasoning)
            self._err.flush()
            self._reasoned = True
        text = (chunk.content or "") + (chunk.refusal or "")
        if text:
            if self._reasoned:
                self._err.write("\n")
                self._err.flush()
                self._reasoned = False
            self._out.write(text)
            self._out.flush()

    def finish(self, *, interrupted: bool = False) -> None:
        if self._reasoned:
            self._err.write("\n")
        for line in self._reply.call_lines():
            self._out.write(("\n" if self._reply.content else "") + line)
        self._out.write("\n")
        self._out.flush()
        if interrupted:
            self._err.write("(stopped)\n")
            self._err.flush()


class LiveRenderer:
    """A reply redrawn as Markdown while it streams (rich)."""

    def __init__(self, console: Any, reasoning: ReasoningMode = "show") -> None:
        self._console = console
        self._mode = reasoning
        self._reply = _Reply()
        self._live: Any = None

    def start(self) -> None:
        from rich.live import Live

        self._reply = _Reply()
        self._live = Live(
            self._view(final=False),
            console=self._console,
            refresh_per_second=12,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def feed(self, chunk: StreamChunk) -> None:
        self._reply.add(chunk)
        if self._live is not None:
            self._live.update(self._view(final=False))

    def finish(self, *, interrupted: bool = False) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._console.print(self._view(final=True))
        if interrupted:
            self._console.print("[dim](stopped)[/dim]")

    def _view(self, *, final: bool) -> Any:
        from rich.console import Group
        from rich.markdown import Markdown
        from rich.spinner import Spinner
        from rich.text import Text

        reply = self._reply
        parts: list[Any] = []
        reasoning = "".join(reply.reasoning).strip()
        if reasoning and self._mode != "hide":
            answering = reply.thinking_ended is not None or final
            if self._mode == "collapse" and answering:
                took = (reply.thinking_ended or time.perf_counter()) - reply.started
                words = len(reasoning.split())
                parts.append(
                    Text(f"▸ thought for {took:.1f} s ({words} words)", style="dim italic")
                )
            else:
                if self._mode == "collapse":
                    reasoning = "\n".join(reasoning.splitlines()[-3:])
                parts.append(Text("Thinking", style="dim bold"))
                parts.append(Text(reasoning, style="dim italic"))
                parts.append(Text(""))
        content = "".join(reply.content)
        if content:
            parts.append(Markdown(content))
        refusal = "".join(reply.refusal)
        if refusal:
            parts.append(Text(refusal, style="red"))
        parts.extend(Text(line, style="cyan") for line in reply.call_lines())
        if not parts and not final:
            label = "thinking…" if reply.reasoning else "waiting for the first token…"
            parts.append(Spinner("dots", text=Text(label, style="dim")))
        group = Group(*parts)
        return group if final else _Tail(group)


class _Tail:
    """The last lines of a renderable that fit the terminal: what is being
    written stays in view while a long reply streams."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment

        lines = console.render_lines(self.renderable, options.update(height=None), pad=False)
        for line in lines[-max(console.height - 2, 1) :]:
            yield from line
            yield Segment.line()


def response_json(response: Any) -> str:
    """A ``GenerationResponse`` as indented JSON (non-JSON values as text)."""
    import dataclasses

    return orjson.dumps(
        dataclasses.asdict(response), option=orjson.OPT_INDENT_2, default=str
    ).decode()
