"""The terminal paths of the ``rill`` command, run in this process against a
stdout that says it is a terminal (so coverage sees them; what a person sees
is checked in a real pseudo-terminal by ``test_cli_terminal``)."""

from __future__ import annotations

import builtins
import io
import sys
from typing import Any

import pytest

from rill.cli import main
from rill.testing import Emulator, Reply, Script, ScriptedToolCall


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> FakeTerminal:
    """stdout and stderr as terminals, installed by ``run`` in the test's call
    phase (pytest's capture resets ``sys.stdout`` between phases)."""
    out, err = FakeTerminal(), FakeTerminal()
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")

    def install() -> None:
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)

    out.install = install  # type: ignore[attr-defined]
    return out


def run(screen: FakeTerminal, argv: list[str]) -> int:
    screen.install()  # type: ignore[attr-defined]
    return main(argv)


def chat(emu: Emulator, *extra: str) -> list[str]:
    return ["chat", "Hi", "-m", "vllm/m", "--base-url", emu.base_url, *extra]


@pytest.mark.parametrize("mode", ["show", "collapse", "hide"])
def test_live_rendering(rill_emulator: Emulator, screen: FakeTerminal, mode: str) -> None:
    reply = Reply(text="Some **bold**.\n\n- one", reasoning="deep thought", refusal="no")
    call = Reply(tool_calls=(ScriptedToolCall("f", {"x": 1}),))
    rill_emulator.enqueue(Script(replies=(reply,)), Script(replies=(call,)))
    assert run(screen, chat(rill_emulator, "--reasoning", mode, "--stats")) == 0
    assert run(screen, chat(rill_emulator)) == 0
    text = screen.getvalue()
    assert "\x1b[1m" in text and "bold" in text and "**" not in text  # drawn, not printed
    assert ("deep thought" in text) == (mode == "show")
    assert ("thought for" in text) == (mode == "collapse")
    assert 'f({"x":1})' in text and "no" in text
    assert "first token" in stderr_text()


def test_a_long_reply_shows_its_tail_while_it_streams(
    rill_emulator: Emulator, screen: FakeTerminal
) -> None:
    lines = "\n\n".join(f"paragraph {i}" for i in range(60))
    rill_emulator.enqueue(Script.of_text(lines, tokens_per_second=400))
    assert run(screen, chat(rill_emulator)) == 0
    assert "paragraph 59" in screen.getvalue()


def test_conversation(
    rill_emulator: Emulator, screen: FakeTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter(["", "Hello", "/model vllm/two", "/model", "/nope", "/reset", "Again", "/exit"])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(typed))
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    rill_emulator.enqueue(Script.of_text("one"), Script.of_text("two"))
    assert run(screen, ["chat", "-m", "vllm/one", "--base-url", rill_emulator.base_url]) == 0
    err = stderr_text()
    assert "(model: vllm/two)" in err and "unknown command /nope" in err and "forgotten" in err
    second = rill_emulator.requests[1].json
    assert second["model"] == "two" and len(second["messages"]) == 1  # after /reset


def test_conversation_survives_an_error_and_ends_at_eof(
    screen: FakeTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def typed(prompt: str = "") -> str:
        if not typed.asked:  # type: ignore[attr-defined]
            typed.asked = True  # type: ignore[attr-defined]
            return "Hi"
        raise EOFError

    typed.asked = False  # type: ignore[attr-defined]
    monkeypatch.setattr(builtins, "input", typed)
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    assert run(screen, ["chat", "-m", "groq/m"]) == 0
    assert "MissingAPIKeyError" in stderr_text()


def test_object_live(rill_emulator: Emulator, screen: FakeTerminal) -> None:
    rill_emulator.enqueue(Script.of_text('{"city": "Rome", "stops": ["a", "b"]}'))
    args = ["object", "tests.test_cli:Trip", "a trip", "-m", "vllm/m"]
    assert run(screen, [*args, "--base-url", rill_emulator.base_url]) == 0
    assert "2/2 fields" in screen.getvalue() and "Rome" in screen.getvalue()


def test_providers_table(screen: FakeTerminal) -> None:
    assert run(screen, ["providers"]) == 0
    assert "not needed" in screen.getvalue() and "OPENAI_API_KEY" in screen.getvalue()


def test_demo(screen: FakeTerminal, monkeypatch: pytest.MonkeyPatch) -> None:
    from rill.cli import _demo

    monkeypatch.setattr(_demo, "_TTFT", 0.01)
    monkeypatch.setattr(_demo, "_PACE", 2000.0)
    assert run(screen, ["demo"]) == 0
    text = screen.getvalue()
    assert "not streamed" in text and "4/4 fields" in text and "rill's emulator" in text


def test_piped_demo_lines(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    from rill.cli import _demo

    monkeypatch.setattr(_demo, "_TTFT", 0.01)
    monkeypatch.setattr(_demo, "_PACE", 2000.0)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "1/4 fields" in out and "4/4 fields" in out


def stderr_text() -> str:
    """What was written to the fake stderr that ``run`` installed."""
    err = sys.stderr
    assert isinstance(err, FakeTerminal)
    return err.getvalue()
