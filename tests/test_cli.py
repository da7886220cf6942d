"""The ``rill`` command: chat streaming, stdin, stats, the offline fallback and the demo."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from rill.cli import main
from rill.testing import Emulator, Reply, Script


def test_chat_streams_and_prints_stats(
    rill_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rill_emulator.enqueue(Script.of_text("Hello from the model."))
    code = main(
        [
            "chat",
            "Hi",
            "-m",
            "vllm/m",
            "--base-url",
            rill_emulator.base_url,
            "--system",
            "Be brief",
            "--stats",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert out == "Hello from the model.\n"
    assert "usage:" in err and "timing: first token" in err and "finish: stop" in err
    messages = rill_emulator.requests[0].json["messages"]
    assert messages == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hi"},
    ]


def test_chat_reads_the_prompt_from_stdin(
    rill_emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rill_emulator.enqueue(Script(replies=(Reply(text="ok", reasoning="hmm "),)))
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
    assert main(["chat", "-m", "vllm/m", "--base-url", rill_emulator.base_url]) == 0
    assert capsys.readouterr().out == "hmm ok\n"
    assert rill_emulator.requests[0].json["messages"][0]["content"] == "from stdin\n"


def test_chat_without_model_or_key_uses_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Hi"]) == 0
    out, err = capsys.readouterr()
    assert "offline emulator" in err and len(err.splitlines()) == 1
    assert "Streaming" in out


def test_chat_reports_errors_briefly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Hi", "-m", "groq/llama"]) == 1
    assert "MissingAPIKeyError" in capsys.readouterr().err


def test_demo_runs_offline_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rill", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "first text on screen" in done.stdout
    assert "whole answer" in done.stdout and "usage:" in done.stdout
