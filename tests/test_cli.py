"""The ``rill`` command with plain output (a pipe, not a terminal): chat,
stdin, flags, stats, JSON, the emulator fallback, objects, providers, serve,
help and the demo. The terminal rendering is in ``test_cli_terminal``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import rill
from rill.cli import build_parser, main
from rill.testing import Emulator, Reply, Script, ScriptedToolCall

ROOT = Path(__file__).resolve().parent.parent


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
            "--temperature",
            "0.5",
            "--max-tokens",
            "20",
            "--timeout",
            "5",
            "--stats",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert out == "Hello from the model.\n"
    assert "first token" in err and "tokens/s" in err and "usage:" in err
    # A local server (vLLM here) is priced at nothing.
    assert "finish: stop" in err and "cost: 0 USD" in err
    body = rill_emulator.requests[0].json
    assert body["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hi"},
    ]
    assert body["temperature"] == 0.5 and body["max_tokens"] == 20


def test_stats_show_cost_only_when_the_response_has_one() -> None:
    from rill.cli._stats import stats_lines

    response = rill.GenerationResponse(content="x")
    assert not any("cost" in line for line in stats_lines(response))

    class Priced:
        total = 0.00042
        currency = "USD"

    class WithCost:
        def __init__(self) -> None:
            self.usage, self.timing, self.finish_reason = rill.Usage(), rill.Timing(), None
            self.cost = Priced()

    assert "cost: 0.000420 USD" in stats_lines(WithCost())  # type: ignore[arg-type]


def test_piped_reasoning_goes_to_stderr_and_the_answer_to_stdout(
    rill_emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rill_emulator.enqueue(Script(replies=(Reply(text="**ok**", reasoning="hmm"),)))
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
    assert main(["chat", "-m", "vllm/m", "--base-url", rill_emulator.base_url]) == 0
    out, err = capsys.readouterr()
    assert out == "**ok**\n"  # the Markdown source, unrendered, with no escape codes
    assert err == "hmm\n"
    assert rill_emulator.requests[0].json["messages"][0]["content"] == "from stdin\n"


def test_hidden_reasoning_is_not_printed(
    rill_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rill_emulator.enqueue(Script(replies=(Reply(text="ok", reasoning="hmm"),)))
    argv = ["chat", "x", "-m", "vllm/m", "--base-url", rill_emulator.base_url]
    assert main([*argv, "--reasoning", "hide"]) == 0
    assert capsys.readouterr() == ("ok\n", "")


def test_tool_calls_are_shown(rill_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    call = ScriptedToolCall("get_weather", {"city": "Paris"})
    rill_emulator.enqueue(Script(replies=(Reply(tool_calls=(call,)),)))
    assert main(["chat", "x", "-m", "vllm/m", "--base-url", rill_emulator.base_url]) == 0
    assert capsys.readouterr().out == '→ get_weather({"city":"Paris"})\n'


def test_json_prints_the_final_response(
    rill_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rill_emulator.enqueue(Script(replies=(Reply(text="Hello", reasoning="r"),)))
    argv = ["chat", "Hi", "-m", "vllm/m", "--base-url", rill_emulator.base_url, "--json"]
    assert main(argv) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["content"] == "Hello" and response["reasoning"] == "r"
    assert response["finish_reason"] == "stop" and response["usage"]["completion_tokens"] > 0
    assert response["timing"]["ttft"] is not None


def test_chat_without_model_or_key_uses_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Hi"]) == 0
    out, err = capsys.readouterr()
    assert "emulator" in err and len(err.splitlines()) == 1
    assert "This answer comes from rill's emulator" in out and "*Hi*" in out


def test_base_url_without_a_model_needs_no_key(
    rill_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rill_emulator.enqueue(Script.of_text("local answer"))
    assert main(["chat", "Hi", "--base-url", rill_emulator.base_url]) == 0
    assert capsys.readouterr().out == "local answer\n"
    request = rill_emulator.requests[-1]
    # The model is the one the server lists (GET /models).
    assert rill_emulator.requests[0].path == "/v1/models"
    assert request.json["model"] == "rill-emulator" and "authorization" not in request.headers


def test_base_url_without_a_model_uses_the_first_listed_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rill.cli._chat import _listed_model

    assert _listed_model("http://127.0.0.1:9/v1") == "default"  # nothing listening


def test_chat_reports_errors_briefly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Hi", "-m", "groq/llama"]) == 1
    err = capsys.readouterr().err
    assert "MissingAPIKeyError" in err and "GROQ_API_KEY" in err and "Traceback" not in err


def test_empty_prompt(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))
    assert main(["chat"]) == 2
    assert "empty prompt" in capsys.readouterr().err


def test_object_from_a_json_schema_file(
    tmp_path: Path, rill_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = {
        "title": "Profile",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "level": {"enum": ["junior", "senior"]},
            "nickname": {"type": "string"},
        },
        "required": ["name", "age", "tags", "level"],
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(schema))
    document = {"name": "Ada", "age": 36, "tags": ["math"], "level": "senior"}
    rill_emulator.enqueue(Script.of_text(json.dumps(document)))
    argv = ["object", str(path), "A profile", "-m", "vllm/m", "--base-url", rill_emulator.base_url]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {**document, "nickname": None}
    sent = rill_emulator.requests[0].json["response_format"]["json_schema"]["schema"]
    assert set(sent["properties"]) == set(schema["properties"])


def test_object_from_a_pydantic_model(
    tmp_path: Path,
    rill_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "shapes.py").write_text(
        "from pydantic import BaseModel\nclass Point(BaseModel):\n    x: int\n    y: int\n"
    )
    monkeypatch.chdir(tmp_path)
    rill_emulator.enqueue(Script.of_text('{"x": 1, "y": 2}'))
    argv = ["object", "shapes:Point", "a point", "-m", "vllm/m", "--base-url"]
    assert main([*argv, rill_emulator.base_url]) == 0
    assert json.loads(capsys.readouterr().out) == {"x": 1, "y": 2}


def test_object_with_a_bad_schema_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["object", str(tmp_path / "missing.json"), "x"]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["object", "no_such_module:Model", "x"]) == 1
    assert "cannot load" in capsys.readouterr().err


def test_object_without_a_key_uses_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["object", "tests.test_cli:Trip", "a trip"]) == 0
    trip = json.loads(capsys.readouterr().out)
    assert trip["city"] == "Paris" and len(trip["stops"]) == 3


def test_providers_lists_variables_and_whether_keys_are_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "sk-not-shown")
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(rows) == set(rill.providers.provider_names())
    assert "GROQ_API_KEY" in rows["groq"] and rows["groq"].endswith(" set")
    assert rows["openai"].endswith("not set") and "OPENAI_API_KEY" in rows["openai"]
    assert rows["vllm"].endswith("not needed") and rows["emulator"].endswith("not needed")
    assert "sk-not-shown" not in out


def test_serve_says_what_to_install_when_the_server_is_absent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rill.server", None)  # an import of it fails
    assert main(["serve", "--port", "1"]) == 2
    assert "pip install 'rill[server]'" in capsys.readouterr().err


def test_serve_hands_its_arguments_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    seen: list[list[str]] = []
    fake = types.ModuleType("rill.server")

    def serve(argv: list[str]) -> int:
        seen.append(argv)
        return 0

    fake.main = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rill.server", fake)
    assert main(["serve", "--port", "8000", "--help"]) == 0
    assert seen == [["--port", "8000", "--help"]]


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["chat"], ["object"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*argv, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text and ":func:" not in text and "usage: rill" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"rill {rill.__version__}\n"


def test_demo_runs_offline_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rill", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "The model here is rill's emulator" in out
    assert "first text on screen" in out and "whole answer" in out
    assert '"stream": false' in out
    assert "4/4 fields" in out and "1/4 fields" in out and "final: Trip(" in out
    assert "usage:" in out and "tokens/s" in out
    assert "\x1b[" not in out  # piped: plain text
    streamed, waited = _first_text_times(out)
    assert streamed < waited  # the non-streamed request really waited for the whole answer


def _first_text_times(out: str) -> tuple[float, float]:
    line = next(line for line in out.splitlines() if line.startswith("first text on screen"))
    numbers = [float(word) for word in line.split() if word.replace(".", "").isdigit()]
    return numbers[0], numbers[1]


def test_rich_loads_only_to_draw_on_a_terminal() -> None:
    probe = (
        "import sys, io, contextlib, rill\n"
        "from rill.cli import build_parser, main\n"
        "build_parser()\n"
        "assert 'rich' not in sys.modules, 'import rill'\n"
        "quiet = contextlib.redirect_stdout(io.StringIO())\n"
        "with quiet, contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['chat', 'Hi']) == 0\n"
        "    assert main(['providers']) == 0\n"
        # httpx imports rich itself (for its own command line) when click is
        # installed too, as the server extra's uvicorn brings it: not rill's doing.
        "print('rich' in sys.modules and 'httpx._main' not in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# For test_object_without_a_key_uses_the_emulator (loaded as tests.test_cli:Trip).
from pydantic import BaseModel  # noqa: E402


class Trip(BaseModel):
    city: str
    stops: list[str]
