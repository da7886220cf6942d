"""``python -m benchmarks._structured_server --size N``: serve one report's stream.

Builds the OpenAI Chat Completions SSE body of ``make_report(N)`` (see
``_document``), answers every request with it from a rill emulator, prints the
emulator's banner and runs until SIGTERM. Full speed, the body goes out in
64 KiB writes; with ``--tps``, one event per write at that rate.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from rill.testing import Emulator, Script

from ._document import document, sse_body
from ._emulator import BANNER

_BATCH = 64 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._structured_server")
    parser.add_argument("--size", type=int, required=True, help="characters of JSON, about")
    parser.add_argument("--tps", type=float, help="events per second (default: full speed)")
    args = parser.parse_args(argv)

    body, event_length = sse_body(document(args.size))
    if args.tps:
        script = Script.of_body(body, body_chunk_size=event_length, tokens_per_second=args.tps)
    else:
        script = Script.of_body(body, body_chunk_size=_BATCH)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Emulator(port=0, default=script) as emulator:
        print(BANNER + emulator.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
