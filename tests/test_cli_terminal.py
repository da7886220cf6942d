"""The ``rill`` command in a real pseudo-terminal, its output rendered by a
terminal emulator (pyte): Markdown drawn rather than printed as source,
reasoning set apart, progress that updates, a conversation, and Ctrl-C from
the keyboard stopping cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rill.cli._chat import PROMPT
from rill.testing import Emulator, Reply, Script

from .terminal import Terminal

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
    "TERM": "xterm-256color",
    "LANG": "C.UTF-8",
}
MARKDOWN = "Some **bold** words.\n\n- item one\n- item two\n\nAnd `code` too."


def rows_with(term: Terminal, text: str) -> list[int]:
    return [y for y, line in enumerate(term.screen.display) if text in line]


def cell(term: Terminal, text: str) -> object:
    y = rows_with(term, text)[0]
    return term.screen.buffer[y][term.screen.display[y].index(text)]


def prompted(screen: str) -> bool:
    """The conversation waits at its prompt."""
    return screen.rstrip().endswith(PROMPT.strip())


def chat(emu: Emulator, *extra: str) -> list[str]:
    return ["chat", "Hi", "-m", "vllm/m", "--base-url", emu.base_url, *extra]


def test_markdown_is_rendered_live_on_a_terminal(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(MARKDOWN, ttft=0.1, tokens_per_second=15))
    term = Terminal(chat(rill_emulator), ENV)
    assert term.read_until(lambda s: "item one" in s), term.text()
    midway = term.text()
    assert term.wait() == 0
    screen = term.text()
    assert "Some bold words." in screen and "**" not in screen
    assert cell(term, "bold").bold  # type: ignore[attr-defined]
    assert "• item one" in screen and "• item two" in screen
    assert "`" not in screen
    # It was drawn while it streamed, not only at the end.
    assert "And code too." not in midway
    assert len(term.screens) >= 3


def test_reasoning_is_shown_apart_from_the_answer(rill_emulator: Emulator) -> None:
    reply = Reply(text="The answer is **42**.", reasoning="Let me weigh the options first.")
    rill_emulator.enqueue(Script(replies=(reply,), ttft=0.05, tokens_per_second=60))
    term = Terminal(chat(rill_emulator), ENV)
    assert term.wait() == 0
    thinking, answer = rows_with(term, "Let me weigh")[0], rows_with(term, "The answer is")[0]
    assert rows_with(term, "Thinking")[0] < thinking < answer
    assert cell(term, "Let me weigh").italics  # type: ignore[attr-defined]
    assert not cell(term, "The answer").italics  # type: ignore[attr-defined]
    assert b"\x1b[2;3m" in term.raw or b"\x1b[3;2m" in term.raw  # dim and italic


@pytest.mark.parametrize(("mode", "shown"), [("hide", None), ("collapse", "thought for")])
def test_reasoning_can_be_hidden_or_collapsed(
    rill_emulator: Emulator, mode: str, shown: str | None
) -> None:
    reply = Reply(text="Answer.", reasoning="Secret musings here.")
    rill_emulator.enqueue(Script(replies=(reply,)))
    term = Terminal(chat(rill_emulator, "--reasoning", mode), ENV)
    assert term.wait() == 0
    screen = term.text()
    assert "Answer." in screen and "Secret musings" not in screen
    if shown is not None:
        assert shown in screen


def test_piped_output_is_plain_text(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(MARKDOWN))
    done = subprocess.run(
        [sys.executable, "-m", "rill", *chat(rill_emulator)],
        capture_output=True,
        env=ENV,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == MARKDOWN + "\n"
    assert b"\x1b" not in done.stdout + done.stderr


def test_object_progress_updates_as_fields_arrive(rill_emulator: Emulator) -> None:
    document = '{"city": "Paris", "stops": ["Louvre", "Orsay", "Marais"], "days": 3}'
    rill_emulator.enqueue(Script.of_text(document, ttft=0.05, tokens_per_second=20))
    args = ["object", "tests.test_cli_terminal:Visit", "a visit", "-m", "vllm/m"]
    term = Terminal([*args, "--base-url", rill_emulator.base_url], ENV)
    assert term.wait() == 0
    seen = {m for s in term.screens for m in re.findall(r"\b(\d)/3 fields", s)}
    assert {"0", "1", "2", "3"} <= seen, seen
    final = term.text()
    assert "3/3 fields" in final and '"Marais"' in final and "━" in final
    growing = [s for s in term.screens if '"Louvre"' in s and '"Marais"' not in s]
    assert growing  # a list seen part-way through


def test_a_conversation_keeps_history_and_takes_commands(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text("First answer."), Script.of_text("Second answer."))
    term = Terminal(["chat", "-m", "vllm/m", "--base-url", rill_emulator.base_url], ENV)
    assert term.read_until(prompted), term.text()
    term.send(b"Hello there\r")
    assert term.read_until(lambda s: "First answer." in s and prompted(s)), term.text()
    term.send(b"/model vllm/other\r")
    assert term.read_until(lambda s: "(model: vllm/other)" in s), term.text()
    term.send(b"And again\r")
    assert term.read_until(lambda s: "Second answer." in s), term.text()
    term.send(b"/reset\r")
    assert term.read_until(lambda s: "forgotten" in s), term.text()
    term.send(b"/exit\r")
    assert term.wait() == 0
    first, second = (r.json for r in rill_emulator.requests)
    assert [m["content"] for m in second["messages"]] == [
        "Hello there",
        "First answer.",
        "And again",
    ]
    assert first["model"] == "m" and second["model"] == "other"


def test_ctrl_c_mid_stream_exits_130_without_a_traceback(rill_emulator: Emulator) -> None:
    long = " ".join(f"word{i}" for i in range(400))
    rill_emulator.enqueue(Script.of_text(long, tokens_per_second=40))
    term = Terminal(chat(rill_emulator), ENV)
    assert term.read_until(lambda s: "word5" in s), term.text()
    term.send(b"\x03")  # Ctrl-C, as typed: the terminal sends SIGINT
    assert term.wait() == 130
    assert b"Traceback" not in term.raw and b"KeyboardInterrupt" not in term.raw
    assert "word5" in term.text()  # what arrived stays on screen
    assert rill_emulator.wait_closed(5)  # and the connection was let go


def test_ctrl_c_in_a_conversation_stops_the_reply_then_leaves(rill_emulator: Emulator) -> None:
    long = " ".join(f"word{i}" for i in range(400))
    rill_emulator.enqueue(Script.of_text(long, tokens_per_second=40))
    term = Terminal(["chat", "-m", "vllm/m", "--base-url", rill_emulator.base_url], ENV)
    assert term.read_until(prompted), term.text()
    term.send(b"go\r")
    assert term.read_until(lambda s: "word5" in s), term.text()
    term.send(b"\x03")
    assert term.read_until(lambda s: "(stopped)" in s and s.rstrip().endswith(PROMPT.strip())), (
        term.text()
    )
    term.send(b"\x03")  # at the prompt: leave
    assert term.wait() == 130
    assert b"Traceback" not in term.raw


def test_the_demo_on_a_terminal() -> None:
    term = Terminal(["demo"], ENV, cols=110, rows=60)
    assert term.wait(60) == 0
    screen = term.text()
    assert "The model here is rill's emulator" in screen
    assert "first text on screen" in screen and "4/4 fields" in screen
    assert any("waiting for the whole answer" in s for s in term.screens)
    seen = {m for s in term.screens for m in re.findall(r"\b(\d)/4 fields", s)}
    assert {"1", "2", "3", "4"} <= seen, seen
    assert "The model in this demo was rill's emulator" in screen
    assert b"Traceback" not in term.raw


# The model for test_object_progress_updates_as_fields_arrive.
from pydantic import BaseModel  # noqa: E402


class Visit(BaseModel):
    city: str
    stops: list[str]
    days: int
