"""``rill demo``: what streaming changes, measured, with no key and no network.

The same paced answer twice from rill's emulator over real HTTP on
127.0.0.1: once streamed, once as a real non-streamed request (the emulator
then waits as long as the stream would take, as a provider generates the
whole answer before it sends it); then a structured object filling in with
its field progress; then the usage and timing rill measured.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, TextIO

import orjson

from .. import _client
from ..providers import OpenAIChatCodec, Provider, register_provider
from ..structured import progress, stream_object
from ._object import draw_live
from ._render import LiveRenderer
from ._stats import seconds, stats_lines

__all__ = ["run_demo"]

PROMPT = "Why does streaming make a chat interface feel faster?"
ANSWER = (
    "Streaming shows each token the moment the model produces it, so the reader starts "
    "at the first word instead of waiting for the last. The total time to generate the "
    "answer is the same either way, but the wait that a person notices, the time to the "
    "first visible text, drops from seconds to a fraction of a second. While the rest "
    "arrives, they are already reading, and a long answer can be stopped early if it is "
    "going the wrong way, which saves both time and tokens."
)
TRIP = {
    "destination": "Lisbon",
    "days": 3,
    "highlights": ["Alfama at dusk", "tram 28", "pastéis de nata in Belém"],
    "budget_eur": 450,
}
_TTFT, _PACE = 0.35, 45.0


def run_demo(out: TextIO) -> int:
    from pydantic import BaseModel

    from ..testing import Emulator, Script

    class Trip(BaseModel):
        destination: str
        days: int
        highlights: list[str]
        budget_eur: int

    started = time.perf_counter()
    screen = _Screen(out)
    text = Script.of_text(ANSWER, ttft=_TTFT, tokens_per_second=_PACE)
    trip = Script.of_text(orjson.dumps(TRIP).decode(), ttft=_TTFT, tokens_per_second=25)
    with Emulator() as emu:
        emu.enqueue(text, text, trip)
        # A provider entry that asks for whole responses ("stream": false).
        register_provider(
            Provider("demo-whole", OpenAIChatCodec(), emu.base_url, streaming=False),
            replace=True,
        )
        screen.say(
            "rill demo. The model here is rill's emulator: a real HTTP server on this "
            "machine that sends a scripted answer at a model's pace; no key, no network."
        )
        screen.heading(f"1. Streamed ({emu.base_url}, OpenAI Chat Completions)")
        screen.say(f"> {PROMPT}\n")
        with _client.generate_stream(
            PROMPT, model="openai/gpt-4o-mini", base_url=emu.base_url
        ) as stream:
            screen.stream(stream)
            streamed = stream.response
        screen.heading(
            '2. Not streamed: the same request with "stream": false, at the same pace; '
            "nothing to show until the whole answer is ready..."
        )
        asked = time.perf_counter()
        with screen.waiting("waiting for the whole answer…"):
            waited = _client.generate(PROMPT, model="demo-whole/gpt-4o-mini")
        waited_total = time.perf_counter() - asked
        screen.say(waited.content)
        ttft = streamed.timing.ttft or 0.0
        screen.table(
            f"\n{'':24}{'streamed':>12}{'not streamed':>16}\n"
            f"{'first text on screen':24}{seconds(ttft):>12}{seconds(waited_total):>16}\n"
            f"{'whole answer':24}{seconds(streamed.timing.total):>12}"
            f"{seconds(waited_total):>16}\n"
        )
        screen.say(f"Streaming put text on screen {seconds(waited_total - ttft)} sooner.")
        screen.heading("3. A structured object, filling in field by field")
        with stream_object(
            "Plan a short trip", Trip, model="openai/gpt-4o-mini", base_url=emu.base_url
        ) as objects:
            final = draw_live(objects, out, "Trip") if screen.tty else _object_lines(objects, out)
        screen.say(f"\nfinal: {final!r}")
        screen.heading("4. Usage and timing of the streamed answer")
        screen.table("\n".join(f"  {line}" for line in stats_lines(streamed)))
    screen.say(
        "\nThe model in this demo was rill's emulator, not a language model: the words are "
        "scripted; the HTTP, the streaming and the timing are real. "
        f"(The demo ran in {seconds(time.perf_counter() - started)}; "
        "`rill chat -m openai/gpt-4o-mini` with OPENAI_API_KEY set asks a real one.)"
    )
    return 0


class _Screen:
    """Plain text in a pipe; on a terminal, wrapped prose, live Markdown and a spinner."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._console: Any = None
        if self.tty:
            from ._console import console

            self._console = console(out)

    def say(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, markup=False)
        else:
            self.out.write(text + "\n")
            self.out.flush()

    def heading(self, text: str) -> None:
        if self._console is not None:
            self._console.print()
            self._console.print(text, style="bold", markup=False)
            self._console.print()
        else:
            self.say(f"\n{text}\n")

    def table(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, markup=False, soft_wrap=True)
        else:
            self.say(text)

    def stream(self, stream: Any) -> None:
        if self._console is not None:
            renderer = LiveRenderer(self._console)
            renderer.start()
            for chunk in stream:
                renderer.feed(chunk)
            renderer.finish()
            return
        for chunk in stream:
            self.out.write(chunk.content or "")
            self.out.flush()
        self.out.write("\n")

    def waiting(self, label: str) -> Any:
        if self._console is not None:
            return self._console.status(label)
        return contextlib.nullcontext()


def _object_lines(objects: Any, out: TextIO) -> Any:
    """One line each time another field completes."""
    last = -1
    for partial in objects:
        done = progress(partial)
        if done.completed != last:
            last = done.completed
            out.write(
                f"  {_bar(done.fraction)} {done.completed}/{done.total} fields  "
                f"{_show(partial.model_dump(exclude_none=True))}\n"
            )
            out.flush()
    return objects.final


def _bar(fraction: float, width: int = 20) -> str:
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _show(document: Any) -> str:
    text = orjson.dumps(document).decode()
    return text if len(text) <= 90 else text[:89] + "…"
