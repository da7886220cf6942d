"""``python -m rill.testing``: run the emulator in the foreground.

For benchmarks and demos that need the server in another process, so that its
CPU time is not counted against the client being measured.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from ._script import Script
from ._server import DEFAULT_SCRIPT, Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rill.testing", description="Serve scripted LLM streams on loopback."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--chunks", type=int, help="answer with this many text pieces")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first byte")
    parser.add_argument("--tps", type=float, help="pieces per second (default: full speed)")
    args = parser.parse_args(argv)

    text = DEFAULT_SCRIPT.replies[0].text
    if args.chunks is not None:
        # "w0 w1 w2 ..." splits into exactly one piece per word.
        text = " ".join(f"w{i}" for i in range(args.chunks))
    script = Script.of_text(text, ttft=args.ttft, tokens_per_second=args.tps)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Emulator(args.host, args.port, default=script) as emulator:
        print(f"rill emulator listening on {emulator.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
