"""What a ``rill.Client`` with every feature on costs per chunk, beside plain rill.

``python -m benchmarks.client`` (``make bench``) starts the emulator in its
own process (a 10,000-chunk OpenAI Chat Completions stream at full speed)
and reads it, round-robin in the same run, with:

- ``plain``: ``rill.generate_stream`` (no client);
- ``client``: ``rill.Client`` with a ``MemoryCache`` (every round a miss:
  the prompt changes, so each stream is recorded and stored), a rate limit
  (high enough never to wait) and OpenTelemetry tracing (the SDK with an
  in-memory exporter when installed, else the API's no-op tracer);
- ``replay``: the same client answering from its cache (a hit replays the
  recorded bytes through the decoder, no network).

It prints the median client CPU per chunk (``time.process_time``, this
process only) and the ratios client/plain (target at most 1.1) and
replay/plain. Nothing is asserted; the figures are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import httpx

import rill

from ._emulator import emulator
from ._measure import expected_text

TARGET = 1.1


def _tracing() -> str:
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError:
        return "opentelemetry-api no-op tracer"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    trace.set_tracer_provider(provider)
    return "opentelemetry-sdk, in-memory exporter"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client", description=__doc__)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2,000 chunks, 3 rounds")
    args = parser.parse_args(argv)
    chunks, rounds = (2_000, 3) if args.quick else (args.chunks, args.rounds)
    tracing = _tracing()
    expected = expected_text(chunks)
    http = httpx.Client()
    with emulator(chunks=chunks) as url:
        client = rill.Client(
            model="openai/bench",
            api_keys={"openai": "sk-bench"},
            base_urls={"openai": url},
            cache=rill.MemoryCache(max_entries=4),
            rate_limits={"openai": rill.RateLimit(requests_per_minute=1e9, tokens_per_minute=1e12)},
            tracing=True,
        )
        counter = iter(range(1_000_000))

        def plain() -> str:
            prompt = f"round {next(counter)}"
            stream = rill.generate_stream(
                prompt, model="openai/bench", api_key="sk-bench", base_url=url, http_client=http
            )
            return "".join(c.content for c in stream)

        def featured() -> str:
            stream = client.generate_stream(f"round {next(counter)}", http_client=http)
            text = "".join(c.content for c in stream)
            assert not stream.response.cached
            return text

        client.generate("the cached one", http_client=http)

        def replay() -> str:
            stream = client.generate_stream("the cached one", http_client=http)
            text = "".join(c.content for c in stream)
            assert stream.response.cached
            return text

        runs: dict[str, Callable[[], str]] = {
            "plain": plain,
            "client": featured,
            "replay": replay,
        }
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():  # warm up, and check the text
            if run() != expected:
                raise RuntimeError("a stream's text differs from what the server sent")
        names = list(runs)
        for round_ in range(rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                start = time.process_time()
                runs[name]()
                cpu[name].append(time.process_time() - start)
    http.close()

    per_chunk = {name: statistics.median(values) / chunks * 1e6 for name, values in cpu.items()}
    print(
        f"rill client overhead: {chunks:,} chunks per stream, {rounds} rounds; tracing: {tracing}"
    )
    print(f"{'':10}{'CPU us/chunk':>14}{'vs plain':>10}")
    for name, value in per_chunk.items():
        print(f"{name:10}{value:14.2f}{value / per_chunk['plain']:9.2f}x")
    ratio = per_chunk["client"] / per_chunk["plain"]
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(
        f"client with cache (miss) + rate limit + tracing: {ratio:.2f}x plain "
        f"(target <= {TARGET}x: {verdict})"
    )
    print(f"cache-hit replay: {per_chunk['replay'] / per_chunk['plain']:.2f}x a live stream")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
