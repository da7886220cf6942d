"""``rill serve``: the server under uvicorn, configured from flags and a file."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Run ``rill serve`` with ``argv`` (the arguments after ``serve``)."""
    parser = argparse.ArgumentParser(
        prog="rill serve",
        description="Serve streams to browsers and OpenAI clients, resumably.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000)")
    parser.add_argument(
        "--store",
        default="memory",
        help="memory (one process), sqlite:PATH (one machine), redis://HOST:PORT/DB "
        "or redis+cluster://HOST:PORT (any node of a Redis Cluster)",
    )
    parser.add_argument("--config", metavar="FILE", help="a TOML file of settings")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without API keys (only on a loopback host)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn's log level (info)")
    args = parser.parse_args(argv)
    try:
        import uvicorn

        from ._app import RillServer
        from ._config import load_config
    except ImportError as exc:
        print(
            f"rill serve needs the server extra: pip install 'rill[server]' ({exc})",
            file=sys.stderr,
        )
        return 2
    try:
        overrides = {"auth": False} if args.no_auth else {}
        config = load_config(args.config, **overrides)
        config.check(args.host)
        server = RillServer(config, args.store)
    except (OSError, ValueError) as exc:
        print(f"rill serve: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(server, host=args.host, port=args.port, log_level=args.log_level, lifespan="on")
    return 0
