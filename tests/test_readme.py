"""The README's examples (and any in docs/), run as a reader would run them:
in order, in one namespace, with no API key set, each against the emulator
its model names. Every block must print something, and what the Tour's
blocks print is checked. The one block that names a local vLLM URL is
pointed at an emulator standing in for that server.

The command-line block runs each command in a subprocess, again with no key.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rill.testing import AutoReply, Emulator

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(language: str) -> list[tuple[Path, str]]:
    pattern = re.compile(rf"```{language}\n(.*?)```", flags=re.S)
    return [(path, block) for path in DOCS for block in pattern.findall(path.read_text())]


PYTHON = _blocks("python")
SHELL = [block for _, block in _blocks("sh") if "rill " in block and "make " not in block]

# A line of a block -> what running the block must print (in the order given).
EXPECTED = {
    'model="emulator/openai/gpt-4o-mini"\n):': ["This answer comes from rill's emulator"],
    "final = stream.response": ["stop"],
    '"Count to 10"': ["You wrote: *Count to 10*", "first token after"],
    '"What\'s the weather in Paris?",\n    model="emulator/openai': [
        "get_weather {'city': 'Paris'}"
    ],
    "asyncio.run(main())": ["You wrote: *Hi*", "reasoning: The request names a reasoning model"],
    'Instruct", base_url="http://127.0.0.1:8000/v1"': ["**This answer comes from rill"],
    'OpenAI(base_url="http://127.0.0.1:8000/v1"': ["This answer comes from rill"],
    "21°C": ["The tool answered"],
    '"acme"': ["Provider(name='acme'"],
    "rill.stream_items": ["Alex Chen 3 of 3", "Sam Rivera", "['jazz', 'sailing', 'compilers']"],
    "apply_patches(None, patches)": ["'op': 'add'", "{'name': 'Alex Chen'"],
    "rill.Timeouts(idle=30)": ["OPENAI_API_KEY"],
    "Fault.close_after(900)": ["Hello there", "ToolCall(", "partial: This reply"],
}


def test_the_docs_have_examples() -> None:
    assert len(PYTHON) >= 12
    for key in EXPECTED:
        assert sum(key in block for _, block in PYTHON) == 1, key


def test_every_example_prints_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    with Emulator(default=AutoReply()) as vllm:
        for path, block in PYTHON:
            code = block.replace("http://127.0.0.1:8000/v1", vllm.base_url)
            exec(compile(code, str(path), "exec"), namespace)
            out = capsys.readouterr().out
            assert out.strip(), f"this example printed nothing:\n{block}"
            for key, expected in EXPECTED.items():
                if key in block:
                    found = [text for text in expected if text in out]
                    assert found == expected, f"{block}\nprinted:\n{out}"


@pytest.mark.parametrize("command", [c for b in SHELL for c in b.strip().splitlines()])
def test_every_command_runs_without_a_key(command: str) -> None:
    if command.startswith("rill demo"):
        pytest.skip("the demo is run and checked by tests/test_cli.py")
    if command.startswith("rill serve"):
        pytest.skip("a server runs until stopped: tests/server/ starts and checks it")
    if command.startswith(("pip ", "export ")):
        pytest.skip("set-up, not an example")
    python = shlex.quote(sys.executable)
    line = re.sub(r"(^|\| )rill ", rf"\1{python} -m rill ", command)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT / "src"),
    }
    done = subprocess.run(
        line, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("block", [block for _, block in _blocks("yaml")])
def test_every_script_file_example_serves(block: str, tmp_path: Path) -> None:
    import rill
    from rill.testing import load_scripts

    path = tmp_path / "scripts.yaml"
    path.write_text(block)
    loaded = load_scripts(path)
    with Emulator(default=loaded.default) as emu:
        emu.enqueue(*loaded.scripts)
        first = rill.generate("Hi", model="vllm/m", base_url=emu.base_url)
        second = rill.generate("Hi", model="vllm/m", base_url=emu.base_url)
    assert first.content and (second.reasoning or second.tool_calls or second.content)


def test_the_first_lines_give_measured_figures() -> None:
    head = (ROOT / "README.md").read_text().split("## ", 1)[0]
    demo = next(line for line in head.splitlines() if line.startswith("make demo"))
    test = next(line for line in head.splitlines() if line.startswith("make test"))
    assert re.search(r"\d+ s", demo) and re.search(r"\d+ [\w-]*\s?packages", demo), demo
    assert re.search(r"\d+ min", test) and re.search(r"\d+ packages", test), test
    assert "scripts/time-fresh-clone" in head and (ROOT / "scripts/time-fresh-clone").exists()
