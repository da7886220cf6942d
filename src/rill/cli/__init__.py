"""The ``rill`` command: chat with a model in the terminal, fill in a
structured object, list providers, run the offline demo, serve.

Each subcommand lives in its own module and imports what it needs when it
runs (rich only to draw on a terminal), so ``rill --help`` stays quick.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

__all__ = ["main"]

_DESCRIPTION = """\
Stream LLM output to the terminal.

  rill chat "Explain async/await" -m openai/gpt-4o-mini --stats
  echo "Explain async/await" | rill chat --system "Be brief"
  rill chat                      a conversation (on a terminal)
  rill object profile.json "A profile for Alex"
  rill providers
  rill demo

With no -m and no OPENAI_API_KEY, answers come from rill's emulator (no
model; it says so). Ctrl-C stops at any point.
"""


def _version() -> str:
    from .. import __version__

    return f"rill {__version__}"


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", help="provider/model, e.g. anthropic/claude-sonnet-4-5")
    parser.add_argument("--system", help="a system prompt")
    parser.add_argument(
        "--base-url", help="send to this server (an OpenAI-compatible one if no -m)"
    )
    parser.add_argument("--temperature", type=float, help="sampling temperature")
    parser.add_argument("--max-tokens", type=int, help="most tokens to generate")
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds to wait to connect, for a first token, between tokens",
    )
    parser.add_argument("--plain", action="store_true", help="plain text even on a terminal")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rill", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser(
        "chat",
        help="stream a reply; with no prompt on a terminal, a conversation",
        description="Stream a reply. Without PROMPT: read it from stdin, or, on a terminal, "
        "start a conversation (/exit, /reset, /model NAME).",
    )
    chat.add_argument("prompt", nargs="?", help="the prompt (default: stdin, or a conversation)")
    _model_options(chat)
    chat.add_argument(
        "--reasoning",
        choices=("show", "collapse", "hide"),
        default="show",
        help="how to show a reasoning model's thinking (default: show, dimmed)",
    )
    chat.add_argument("--json", action="store_true", help="print the final response as JSON")
    chat.add_argument(
        "--stats", action="store_true", help="print time to first token, speed, usage, cost"
    )

    obj = commands.add_parser(
        "object",
        help="fill in a structured object, live",
        description="Ask for an object of SCHEMA and show it filling in, with the share of "
        "fields complete. SCHEMA is a JSON Schema file or module:Model (a pydantic model).",
    )
    obj.add_argument("schema", help="a JSON Schema file, or module:Model")
    obj.add_argument("prompt", help="what to ask for")
    _model_options(obj)

    providers = commands.add_parser("providers", help="list providers and whether keys are set")
    providers.add_argument("--plain", action="store_true", help="plain text even on a terminal")
    commands.add_parser("demo", help="offline demo: streamed vs not, structured output, timing")
    commands.add_parser(
        "serve", help="run the streaming server (needs: pip install 'rill[server]')", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rill`` command; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list[:1] == ["serve"]:
            return _serve(args_list[1:])
        args = build_parser().parse_args(args_list)
        return _run(args)
    except KeyboardInterrupt:
        # Ctrl-C: a clean stop, with the conventional status (128 + SIGINT).
        sys.stderr.write("\n")
        return 128 + signal.SIGINT


def _run(args: argparse.Namespace) -> int:
    from .._errors import RillError

    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "chat":
            from ._chat import run_chat

            return run_chat(args, out, err, sys.stdin)
        if args.command == "object":
            from ._object import run_object

            return run_object(args, out, err)
        if args.command == "providers":
            from ._providers import run_providers

            return run_providers(out, plain=args.plain)
        from ._demo import run_demo

        return run_demo(out)
    except RillError as exc:
        print(f"rill: {type(exc).__name__}: {exc}", file=err)
        return 1
    except BrokenPipeError:  # `rill chat ... | head`: the reader left
        # Point stdout at nothing so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _serve(argv: list[str]) -> int:
    import importlib

    try:
        server = importlib.import_module("rill.server")
    except ImportError:
        print("rill serve needs the server extra: pip install 'rill[server]'", file=sys.stderr)
        return 2
    return int(server.main(argv))
