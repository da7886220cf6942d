"""The README's examples run, in order, against the emulator: provider
endpoints are pointed at it through their base-URL variables, and the one
example that names a local vLLM URL is pointed at it too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rill.testing import Emulator, Reply, Script, ScriptedToolCall

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 8


def test_the_readme_examples_run(
    rill_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for provider in ("OPENAI", "GROQ", "DEEPSEEK", "ANTHROPIC"):
        monkeypatch.setenv(f"{provider}_API_KEY", "sk-readme")
        monkeypatch.setenv(f"{provider}_BASE_URL", rill_emulator.base_url)
    rill_emulator.default = Script.of_text("Hello from the emulator.")
    profile = '{"name": "Alex Chen", "bio": "Builds things.", "interests": ["go", "jazz"]}'
    users = '{"items": [' + ", ".join([profile] * 3) + "]}"
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in BLOCKS:
        if "tools=" in block:
            call = ScriptedToolCall("get_weather", {"city": "Paris"})
            rill_emulator.enqueue(Script(replies=(Reply(tool_calls=(call,)),)))
        if "stream_object" in block:
            rill_emulator.enqueue(
                Script.of_text(profile), Script.of_text(users), Script.of_text(profile)
            )
        code = block.replace("http://127.0.0.1:8000/v1", rill_emulator.base_url)
        exec(compile(code, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "Hello from the emulator." in out
    assert "get_weather {'city': 'Paris'}" in out
    assert "partial:" in out
    assert "Alex Chen 3 of 3" in out
    assert "4 Hello from the emulator. Hello" in out  # text completions: 2 prompts x n=2
