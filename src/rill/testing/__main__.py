"""``python -m rill.testing``: run the emulator in the foreground.

For demos, front-end work, tests in other languages, and benchmarks that need
the server in another process (so that its CPU time is not counted against
the client being measured). ``--script FILE`` serves the scripts of a JSON or
YAML file (see ``_scriptfile``); without one, every request gets a reply that
fits it (``AutoReply``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from ._intent import AutoReply
from ._protocols import every_protocol
from ._script import Script
from ._scriptfile import ScriptFileError, load_scripts
from ._server import Emulator, Responder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rill.testing",
        description="Serve scripted LLM responses on loopback, in every protocol rill speaks.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument(
        "--script", metavar="FILE", help="answer from the scripts in FILE (JSON, or YAML)"
    )
    parser.add_argument("--chunks", type=int, help="answer with this many text pieces")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first byte")
    parser.add_argument("--tps", type=float, help="pieces per second (default: full speed)")
    args = parser.parse_args(argv)

    default: Script | Responder
    queued: tuple[Script | Responder, ...] = ()
    if args.script is not None:
        try:
            loaded = load_scripts(args.script)
        except ScriptFileError as exc:
            print(f"python -m rill.testing: {exc}", file=sys.stderr)
            return 2
        queued, default = loaded.scripts, loaded.default
    elif args.chunks is not None:
        # "w0 w1 w2 ..." splits into exactly one piece per word.
        text = " ".join(f"w{i}" for i in range(args.chunks))
        default = Script.of_text(text, ttft=args.ttft, tokens_per_second=args.tps)
    else:
        default = AutoReply(ttft=args.ttft, tokens_per_second=args.tps)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Emulator(args.host, args.port, default=default) as emulator:
        emulator.enqueue(*queued)
        print(f"rill emulator listening on {emulator.base_url}", flush=True)
        for line in every_protocol(emulator.url):
            print(f"  {line}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
