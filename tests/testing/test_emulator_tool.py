"""The emulator as a tool: strict routing, per-protocol request validation,
replies that fit the request (``AutoReply``), script files, the command line,
and the ``emulator/`` models that let every example run without a key."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import rill
from rill.testing import AutoReply, Emulator, Script, ScriptFileError, load_scripts
from rill.testing._scriptfile import parse_scripts

ROOT = Path(__file__).resolve().parents[2]
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def emu() -> Any:
    with Emulator(default=AutoReply()) as emulator:
        yield emulator


# -- strict routing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected_base"),
    [
        ("/chat/completions", "/v1"),  # base_url=emu.url for an OpenAI client
        ("/v1/v1/chat/completions", "/v1"),
        ("/v1/v1/messages", ""),  # base_url=emu.base_url + "/v1" for Anthropic
        ("/models/gemini-2.5-flash:generateContent", "/v1beta"),
        ("/v1/api/chat", ""),
        ("/v2/v2/chat", ""),
    ],
)
def test_a_path_in_the_wrong_place_is_a_404_naming_the_base_url(
    emu: Emulator, path: str, expected_base: str
) -> None:
    reply = httpx.post(emu.url + path, json=CHAT, timeout=5)
    assert reply.status_code == 404
    assert f"base_url='{emu.url}{expected_base}'" in reply.text
    assert emu.requests[-1].path == path


def test_an_unknown_path_lists_every_protocol(emu: Emulator) -> None:
    reply = httpx.post(f"{emu.url}/v1/nothing", json={}, timeout=5)
    assert reply.status_code == 404
    message = reply.json()["error"]["message"]
    assert "OpenAI Chat Completions" in message and "Anthropic Messages" in message
    assert f"'{emu.url}/v1beta'" in message


def test_a_client_with_the_wrong_base_url_fails_as_with_the_provider(emu: Emulator) -> None:
    with pytest.raises(rill.NotFoundError, match=r"base_url='http://127\.0\.0\.1:\d+/v1'"):
        rill.generate("Hi", model="vllm/m", base_url=emu.url, max_retries=0)
    assert rill.generate("Hi", model="vllm/m", base_url=emu.base_url).content


# -- validation in each provider's error shape ---------------------------------


@pytest.mark.parametrize(
    ("path", "body", "check"),
    [
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "x"}]},
            lambda e: (
                e["error"]["message"] == "you must provide a model parameter"
                and e["error"]["type"] == "invalid_request_error"
            ),
        ),
        (
            "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "bot", "content": "x"}]},
            lambda e: "messages[0].role" in e["error"]["message"],
        ),
        (
            "/v1/messages",
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            lambda e: (
                e["type"] == "error"
                and e["error"]
                == {"type": "invalid_request_error", "message": "max_tokens: Field required"}
            ),
        ),
        (
            "/v1beta/models/g:generateContent",
            {"contents": []},
            lambda e: (
                e["error"]["status"] == "INVALID_ARGUMENT"
                and "contents is not specified" in e["error"]["message"]
            ),
        ),
        ("/api/chat", {"messages": []}, lambda e: e == {"error": "model is required"}),
        ("/v1/responses", {"input": "x"}, lambda e: "'model'" in e["error"]["message"]),
        ("/v2/chat", {"model": "m"}, lambda e: "messages" in e["message"]),
    ],
)
def test_a_malformed_request_gets_the_providers_own_400(
    emu: Emulator, path: str, body: dict[str, Any], check: Any
) -> None:
    reply = httpx.post(emu.url + path, json=body, timeout=5)
    assert reply.status_code == 400
    assert check(reply.json()), reply.text


# -- replies that fit the request ----------------------------------------------


class Profile(BaseModel):
    name: str
    age: int
    tags: list[str]


WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
PROVIDERS = [
    "openai/gpt-4o-mini",
    "anthropic/claude-sonnet-4-5",
    "gemini/gemini-2.5-flash",
    "ollama/llama3.2",
    "openai-responses/gpt-5",
    "cohere/command-a",
    "deepseek/deepseek-chat",
]


@pytest.mark.parametrize("model", PROVIDERS)
def test_emulator_models_answer_every_protocol_without_a_key(model: str) -> None:
    text = rill.generate("Hi there", model=f"emulator/{model}")
    assert "rill's emulator" in text.content and "*Hi there*" in text.content
    tools = [{"name": "get_weather", "parameters": WEATHER}]
    called = rill.generate("Weather?", model=f"emulator/{model}", tools=tools)
    assert [(c.name, c.args) for c in called.tool_calls] == [("get_weather", {"city": "Paris"})]
    profile = rill.generate_object("A profile", Profile, model=f"emulator/{model}")
    assert profile == Profile(name="Alex Chen", age=1, tags=["one", "two", "three"])


@pytest.mark.parametrize(
    "model", ["emulator/deepseek/deepseek-reasoner", "emulator/o3-mini", "emulator/qwq-32b"]
)
def test_a_reasoning_model_reasons_first(model: str) -> None:
    response = rill.generate("Hi", model=model)
    assert response.reasoning.startswith("The request names a reasoning model")
    assert response.content


def test_a_plain_model_does_not_reason() -> None:
    assert rill.generate("Hi", model="emulator/gpt-4o-mini").reasoning == ""


def test_after_a_tool_result_the_model_answers_in_text() -> None:
    tools = [{"name": "get_weather", "parameters": WEATHER}]
    model = "emulator/anthropic/claude-sonnet-4-5"
    first = rill.generate("Weather?", model=model, tools=tools)
    conversation = [
        rill.Message(rill.MessageRole.USER, "Weather?"),
        first.to_message(),
        rill.Message(rill.MessageRole.TOOL, "21°C", tool_call_id=first.tool_calls[0].id),
    ]
    second = rill.generate(conversation, model=model, tools=tools)
    assert second.tool_calls == [] and "tool answered" in second.content


def test_a_real_provider_still_needs_its_key() -> None:
    with pytest.raises(rill.MissingAPIKeyError, match="OPENAI_API_KEY"):
        rill.generate("Hi", model="openai/gpt-4o-mini")
    with pytest.raises(rill.MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        rill.generate("Hi", model="anthropic/claude-sonnet-4-5", base_url="https://example.com")


def test_a_local_base_url_needs_no_key(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text("local"), Script.of_text("local"))
    assert rill.generate("Hi", model="openai/gpt-4o-mini", base_url=rill_emulator.base_url).content
    local = rill_emulator.base_url.replace("127.0.0.1", "localhost")
    assert rill.generate("Hi", model="groq/llama", base_url=local).content == "local"
    assert all("authorization" not in r.headers for r in rill_emulator.requests)


def test_a_local_base_url_from_the_environment_needs_no_key(
    rill_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", rill_emulator.base_url)
    rill_emulator.enqueue(Script.of_text("from the variable"))
    assert rill.generate("Hi", model="openai/gpt-4o-mini").content == "from the variable"


def test_an_emulator_model_reports_itself() -> None:
    response = rill.generate("Hi", model="emulator/anthropic/claude-sonnet-4-5")
    assert response.provider == "emulator" and response.model == "claude-sonnet-4-5"


# -- pacing of non-streamed replies ----------------------------------------------


def test_a_non_streamed_reply_takes_as_long_as_the_stream(emu: Emulator) -> None:
    script = Script.of_text(" ".join(["word"] * 20), ttft=0.1, tokens_per_second=50)
    emu.enqueue(script)
    start = time.perf_counter()
    body = httpx.post(f"{emu.base_url}/chat/completions", json=CHAT, timeout=10).json()
    elapsed = time.perf_counter() - start
    assert body["choices"][0]["message"]["content"].startswith("word word")
    # 20 pieces, a role chunk, 2 finish/[DONE] frames: ttft + ~22 intervals of 20 ms.
    assert 0.45 < elapsed < 3.0


# -- script files ------------------------------------------------------------------

DOCUMENT = {
    "ttft": 0.0,
    "tokens_per_second": 500,
    "scripts": [
        {"text": "Hello **there**"},
        {"reasoning": "Two and two.", "text": "4"},
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"json": {"name": "Ada", "age": 36, "tags": ["math"]}},
        {"json": {"name": "Ada", "age": 36, "tags": ["math"]}},
        {"status": 429, "headers": {"retry-after": "0"}},
        {"text": "one more"},
        {"text": " ".join(["cut"] * 100), "faults": [{"close_after": 600}]},
    ],
    "default": {"text": "the default"},
}


def _serve(document: Any) -> Emulator:
    loaded = parse_scripts(document)
    emulator = Emulator(default=loaded.default).start()
    emulator.enqueue(*loaded.scripts)
    return emulator


def test_a_script_file_scripts_every_kind_of_reply() -> None:
    emulator = _serve(DOCUMENT)
    try:
        options: dict[str, Any] = {"model": "vllm/m", "base_url": emulator.base_url}
        assert rill.generate("x", **options).content == "Hello **there**"
        reasoned = rill.generate("x", **options)
        assert (reasoned.reasoning, reasoned.content) == ("Two and two.", "4")
        assert rill.generate("x", **options).tool_calls[0].args == {"city": "Paris"}
        # A structured reply is text in JSON-schema mode, a tool call in tool mode.
        assert rill.generate_object("x", Profile, **options).name == "Ada"
        anthropic: dict[str, Any] = {"model": "anthropic/claude", "base_url": emulator.url}
        assert rill.generate_object("x", Profile, **anthropic).tags == ["math"]
        # The 429 is retried (Retry-After: 0), and the next script answers.
        assert rill.generate("x", **options).content == "one more"
        with pytest.raises(rill.IncompleteStreamError) as cut:
            rill.generate("x", **options)
        assert cut.value.partial is not None and cut.value.partial.content.startswith("cut")
        assert rill.generate("x", **options).content == "the default"
    finally:
        emulator.close()


def test_the_default_default_fits_each_request() -> None:
    loaded = parse_scripts({"scripts": []})
    assert isinstance(loaded.default, AutoReply)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "scripts: expected a mapping"),
        ({"scripts": [{"txt": "x"}]}, "scripts[0]: unknown key 'txt'"),
        ({"scripts": [{"faults": [{"explode": 1}]}]}, "scripts[0].faults[0]: unknown fault"),
        ({"scripts": [{"faults": [{"close_after": -1}]}]}, ">= 0"),
        ({"scripts": [{"tool_calls": [{"arguments": {}}]}]}, "needs a 'name'"),
        ({"scripts": [{"json": {}, "text": "x"}]}, "'json' is a whole reply"),
        ({"scripts": [{"text": "x", "tokens_per_second": 0}]}, "tokens_per_second"),
        ({"scripts": "text"}, "'scripts' must be a list"),
    ],
)
def test_mistakes_in_a_script_file_say_where(document: Any, message: str) -> None:
    with pytest.raises(ScriptFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scripts(document)


def test_yaml_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"scripts": ["plain text"]}))
    assert load_scripts(tmp_path / "s.json").scripts == (Script.of_text("plain text"),)
    (tmp_path / "s.yaml").write_text("scripts:\n  - text: from yaml\n    ttft: 0.5\n")
    assert load_scripts(tmp_path / "s.yaml").scripts == (Script.of_text("from yaml", ttft=0.5),)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ScriptFileError, match="not valid JSON"):
        load_scripts(tmp_path / "bad.json")
    with pytest.raises(ScriptFileError, match="cannot read"):
        load_scripts(tmp_path / "absent.json")


def test_yaml_without_pyyaml_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_yaml(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "yaml":
            raise ImportError("No module named 'yaml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    (tmp_path / "s.yml").write_text("scripts: []\n")
    with pytest.raises(ScriptFileError, match=r"needs PyYAML: pip install pyyaml"):
        load_scripts(tmp_path / "s.yml")


def test_the_command_line_serves_a_script_file(tmp_path: Path) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps({"scripts": [{"text": "scripted"}], "default": "auto"}))
    process = subprocess.Popen(
        [sys.executable, "-m", "rill.testing", "--script", str(script)],
        stdout=subprocess.PIPE,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("rill emulator listening on http://127.0.0.1:")
        base_url = banner.split()[-1]
        listed = [process.stdout.readline() for _ in range(3)]
        assert any("Anthropic Messages" in line for line in listed), listed
        assert rill.generate("x", model="vllm/m", base_url=base_url).content == "scripted"
        tools = [{"name": "f", "parameters": {"type": "object"}}]
        assert rill.generate("x", model="vllm/m", base_url=base_url, tools=tools).tool_calls
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


def test_the_command_line_rejects_a_bad_script_file(tmp_path: Path) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps({"scripts": [{"nope": 1}]}))
    done = subprocess.run(
        [sys.executable, "-m", "rill.testing", "--script", str(script)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "scripts[0]: unknown key 'nope'" in done.stderr and "Traceback" not in done.stderr


def test_sample_json_validates_against_the_schema_it_was_made_from() -> None:
    from enum import Enum
    from typing import Literal

    from rill.testing._intent import sample_json

    class Level(Enum):
        LOW = "low"
        HIGH = "high"

    class Address(BaseModel):
        city: str
        zip_code: str | None = None

    class Person(BaseModel):
        name: str
        email: str
        level: Level
        kind: Literal["a", "b"]
        address: Address
        previous: list[Address]
        score: float
        active: bool
        note: str | None

    value = sample_json(Person.model_json_schema())
    person = Person.model_validate(value)
    assert person.name == "Alex Chen" and person.address.city == "Paris"
    assert len(person.previous) == 3 and person.level is Level.LOW


@pytest.mark.parametrize(
    "name", [n for n in rill.providers.provider_names() if n not in ("emulator", "vertex")]
)
def test_every_provider_can_be_emulated(name: str) -> None:
    # Vertex needs a Google Cloud project for its URL, emulated or not.
    assert "rill's emulator" in rill.generate("Hi", model=f"emulator/{name}/some-model").content


def test_the_emulator_lists_a_model_as_openai_does() -> None:
    import openai

    with (
        Emulator() as emulator,
        openai.OpenAI(base_url=emulator.base_url, api_key="unused") as client,
    ):
        assert [m.id for m in client.models.list()] == ["rill-emulator"]
        # rill chat --base-url asks the server which model to use.
        from rill.cli._chat import _listed_model

        assert _listed_model(emulator.base_url) == "rill-emulator"
