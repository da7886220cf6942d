"""The ``rill`` command: stream a chat to the terminal, or run the offline demo.

rill chat "Explain async/await" -m openai/gpt-4o-mini --stats
echo "Explain async/await" | rill chat
rill demo
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from . import _client
from ._errors import RillError
from ._response import GenerationResponse

__all__ = ["main"]

DEFAULT_MODEL = "openai/gpt-4o-mini"
DEMO_PROMPT = "Why does streaming make a chat interface feel faster?"
DEMO_ANSWER = (
    "Streaming shows each token the moment the model produces it, so the reader starts "
    "at the first word instead of waiting for the last. The total time to generate the "
    "answer is the same either way, but the wait that a person notices, the time to the "
    "first visible text, drops from seconds to a fraction of a second. While the rest "
    "arrives, they are already reading, and a long answer can be stopped early if it is "
    "going the wrong way, which saves both time and tokens."
)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["serve"]:
        from .server._main import main as serve

        return serve(words[1:])
    parser = argparse.ArgumentParser(prog="rill", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="stream a reply to the terminal")
    chat.add_argument("prompt", nargs="?", help="the prompt (read from stdin when omitted)")
    chat.add_argument("-m", "--model", help=f"provider/model (default {DEFAULT_MODEL})")
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument("--stats", action="store_true", help="print usage and timing afterwards")
    chat.add_argument("--base-url", help="override the provider's base URL")
    commands.add_parser("demo", help="offline demo: stream vs wait, over real HTTP")
    args = parser.parse_args(argv)
    try:
        if args.command == "chat":
            return _chat(args, sys.stdout, sys.stderr)
        return _demo(sys.stdout)
    except RillError as exc:
        print(f"rill: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        print("rill: empty prompt", file=err)
        return 2
    if args.model is None and args.base_url is None and not os.environ.get("OPENAI_API_KEY"):
        from .testing import Emulator, Script

        print("rill: no model and no OPENAI_API_KEY: answering from the offline emulator", file=err)
        with Emulator(default=Script.of_text(DEMO_ANSWER, ttft=0.2, tokens_per_second=60)) as emu:
            return _stream(
                prompt, args, out, err, model=DEFAULT_MODEL, base_url=emu.base_url, key="emulator"
            )
    return _stream(
        prompt, args, out, err, model=args.model or DEFAULT_MODEL, base_url=args.base_url, key=None
    )


def _stream(
    prompt: str,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    model: str,
    base_url: str | None,
    key: str | None,
) -> int:
    with _client.generate_stream(
        prompt, model=model, system=args.system, base_url=base_url, api_key=key
    ) as stream:
        for chunk in stream:
            text = chunk.reasoning or chunk.content or chunk.refusal
            if text:
                out.write(text)
                out.flush()
        response = stream.response
    out.write("\n")
    if args.stats:
        print(_stats(response), file=err)
    return 0


def _stats(response: GenerationResponse) -> str:
    usage, timing = response.usage, response.timing
    counted = "estimated" if usage.estimated else "reported"
    lines = [
        f"usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
        f"= {usage.total_tokens} tokens ({counted})",
        f"timing: first token {_seconds(timing.ttft)}, total {_seconds(timing.total)}, "
        f"{timing.chunks} chunks"
        + (
            f", {timing.output_tokens_per_second:.1f} tokens/s"
            if timing.output_tokens_per_second
            else ""
        ),
    ]
    if timing.gap_median is not None:
        lines.append(
            f"gaps between chunks: median {_ms(timing.gap_median)}, "
            f"p95 {_ms(timing.gap_p95)}, max {_ms(timing.gap_max)}"
        )
    if response.finish_reason:
        lines.append(f"finish: {response.finish_reason}")
    return "\n".join(lines)


def _demo(out: TextIO) -> int:
    from .testing import Emulator, Script

    script = Script.of_text(DEMO_ANSWER, ttft=0.35, tokens_per_second=45)
    with Emulator(default=script) as emu:
        model, key = "openai/gpt-4o-mini", "emulator"
        out.write(
            "rill demo: offline, from the emulator over real HTTP "
            f"({emu.base_url}, OpenAI Chat Completions protocol)\n\n"
        )
        out.write(f"> {DEMO_PROMPT}\n\n")
        out.flush()
        started = time.perf_counter()
        with _client.generate_stream(
            DEMO_PROMPT, model=model, base_url=emu.base_url, api_key=key
        ) as stream:
            for chunk in stream:
                if chunk.content:
                    out.write(chunk.content)
                    out.flush()
            streamed = stream.response
        out.write("\n\n")
        out.write("Now the same request, waiting for the whole answer before showing it...\n")
        out.flush()
        waited_start = time.perf_counter()
        waited = _client.generate(DEMO_PROMPT, model=model, base_url=emu.base_url, api_key=key)
        waited_total = time.perf_counter() - waited_start
        assert waited.content == streamed.content
        streamed_total = streamed.timing.total
        ttft = streamed.timing.ttft or 0.0
        out.write(
            "\n"
            f"{'':24}{'streamed':>12}{'not streamed':>16}\n"
            f"{'first text on screen':24}{_seconds(ttft):>12}{_seconds(waited_total):>16}\n"
            f"{'whole answer':24}{_seconds(streamed_total):>12}{_seconds(waited_total):>16}\n"
            f"\nStreaming put text on screen {_seconds(waited_total - ttft)} sooner "
            f"({waited_total / max(ttft, 1e-9):.0f}x faster to first text).\n\n"
        )
        out.write(_stats(streamed) + "\n")
        out.write(f"(demo ran in {_seconds(time.perf_counter() - started)})\n")
    return 0


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


if __name__ == "__main__":
    sys.exit(main())
