"""Client CPU per model chunk of ``astream_events`` over a chain: rill beside
LangChain, same server, same run.

``python -m benchmarks.events`` (part of ``make bench``) starts the rill
emulator in a separate process serving a 5,000-chunk OpenAI Chat Completions
stream, then, round-robin:

- ``rill-events``: ``(rill.prompt | rill.ChatModel | rill.TextParser()).astream_events(v2)``
- ``rill-astream``: the same chain's plain ``astream``
- ``langchain-events``: ``(ChatPromptTemplate | ChatOpenAI | StrOutputParser()).astream_events(v2)``

and prints the median process CPU per model chunk and the ratios. Targets:
rill's events at most 1/20 of LangChain's, and at most 1.5x rill's astream.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from ._emulator import emulator
from ._measure import expected_text

TARGET_VS_LANGCHAIN = 1 / 20
TARGET_VS_ASTREAM = 1.5


def _rill(base_url: str) -> dict[str, Callable[[], Awaitable[str]]]:
    import rill

    chat = rill.ChatModel("openai/gpt-4o-mini", base_url=base_url, api_key="bench")
    chain = rill.prompt("Tell me about {topic}") | chat | rill.TextParser()

    async def events() -> str:
        parts = []
        async for event in chain.astream_events({"topic": "rivers"}, version="v2"):
            if event["event"] == "on_parser_stream":
                parts.append(event["data"]["chunk"])
        return "".join(parts)

    async def plain() -> str:
        return "".join([text async for text in chain.astream({"topic": "rivers"})])

    return {"rill-events": events, "rill-astream": plain}


def _langchain(base_url: str) -> dict[str, Callable[[], Awaitable[str]]]:
    try:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_openai import ChatOpenAI
    except ImportError:
        return {}
    chat = ChatOpenAI(model="gpt-4o-mini", base_url=base_url, api_key="bench")  # type: ignore[arg-type]
    chain = ChatPromptTemplate.from_template("Tell me about {topic}") | chat | StrOutputParser()

    async def events() -> str:
        parts = []
        async for event in chain.astream_events({"topic": "rivers"}, version="v2"):
            if event["event"] == "on_parser_stream":
                parts.append(event["data"]["chunk"])
        return "".join(parts)

    return {"langchain-events": events}


async def _measure(
    clients: dict[str, Callable[[], Awaitable[str]]], rounds: int, expected: str
) -> dict[str, list[float]]:
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    for name, client in clients.items():  # warm up (pools, imports)
        if await client() != expected:
            raise SystemExit(f"{name} read the wrong text")
    for _ in range(rounds):
        for name, client in clients.items():
            start = time.process_time()
            text = await client()
            cpu[name].append(time.process_time() - start)
            if text != expected:
                raise SystemExit(f"{name} read the wrong text")
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 chunks, 2 rounds")
    args = parser.parse_args(argv)
    chunks, rounds = (1_000, 2) if args.quick else (args.chunks, args.rounds)
    with emulator(chunks=chunks) as url:
        clients = {**_rill(url), **_langchain(url)}
        cpu = asyncio.run(_measure(clients, rounds, expected_text(chunks)))
    per_chunk = {name: statistics.median(s) / chunks * 1e6 for name, s in cpu.items()}
    print(f"astream_events over a {chunks:,}-chunk prompt | chat | parser chain ({rounds} rounds)")
    for name, us in per_chunk.items():
        print(f"  {name:18} {us:8.1f} us CPU per model chunk")
    events, plain = per_chunk["rill-events"], per_chunk["rill-astream"]
    ratio = events / plain
    print(
        f"  rill events / rill astream = {ratio:.2f}x "
        f"(target <= {TARGET_VS_ASTREAM}x: {'met' if ratio <= TARGET_VS_ASTREAM else 'MISSED'})"
    )
    if "langchain-events" in per_chunk:
        vs = events / per_chunk["langchain-events"]
        print(
            f"  rill events / langchain events = 1/{1 / vs:.0f} "
            f"(target <= 1/20: {'met' if vs <= TARGET_VS_LANGCHAIN else 'MISSED'})"
        )
    else:
        print("  langchain-openai is not installed (pip install -e '.[bench]')")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
