"""Child process for the fresh-process time to first token.

``python -m benchmarks._first_token CLIENT URL`` imports the client's library
(not timed), then times building the client, sending the request and receiving
the first text piece, and prints the seconds on stdout.
"""

from __future__ import annotations

import sys
from time import perf_counter

from ._peers import PEERS


def main(argv: list[str]) -> int:
    name, url = argv
    peer = PEERS[name]()
    peer.load()
    start = perf_counter()
    peer.open(url)
    stamp = peer.first()
    print(f"{stamp - start:.6f}", flush=True)
    peer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
