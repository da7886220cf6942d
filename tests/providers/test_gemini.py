"""Gemini (``gemini/...``) and Vertex AI (``vertex/...``).

Conformance: every recorded body in ``../shared/fixtures/wire/gemini`` (SSE
and JSON-array framing) is served verbatim over HTTP by the emulator and
decoded by rill; the expected values below were worked out by hand from each
body and its ``.request.json``. Byte splits never change the result.

Then: errors, the emulator speaking Gemini (a scripted conversation with
reasoning and two parallel tool calls, and its round trip), endpoints and
credentials, and request building.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rill
from rill import GenerationResponse, Message, MessageRole, ToolCall
from rill._request import prepare_request
from rill.providers import Call, get_provider
from rill.providers._gemini import GeminiCodec
from rill.testing import Emulator, Fault, Reply, Script, ScriptedToolCall

from ..conftest import wire_files
from ..decoding import call, decode_split

WHOLE = Call(model="m", messages=(), provider="gemini")
"""The call a whole (non-streamed) body answers, for ``decode_response``."""

BODIES = wire_files("gemini", "*.sse") + wire_files("gemini", "*.json")
IDS = [p.name for p in BODIES]


@pytest.fixture(autouse=True)
def _clean_google_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "GEMINI_BASE_URL",
        "VERTEX_ACCESS_TOKEN",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


# ------------------------------------------------------------ conformance


@dataclass(frozen=True)
class Text:
    """A long text: how it starts, how it ends, and its length."""

    start: str
    end: str
    length: int

    def check(self, value: str) -> None:
        assert value.startswith(self.start)
        assert value.endswith(self.end)
        assert len(value) == self.length


@dataclass(frozen=True)
class Expected:
    model: str
    id: str
    usage: tuple[int, int, int, int]  # prompt, completion, total, reasoning
    content: str | Text = ""
    reasoning: str | Text = ""
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    finish: str = "stop"
    native: str = "STOP"
    signature: Text | None = None  # the reasoning signature (from a text or thought part)
    items: list[str] = field(default_factory=list)  # item types
    # Each thoughtSignature item: where it came from ("text", "thought" or a tool call id).
    signatures: dict[str, Text] = field(default_factory=dict)
    vertex: bool = False


EXPECTED: dict[str, Expected] = {
    # Three text parts; the first two chunks report prompt 15 / total 15, the
    # last one the final figures (prompt 13, candidates 8, total 21).
    "pai-gem-20flash-text.sse": Expected(
        "gemini-2.0-flash-exp",
        "w1peaMz6INOvnvgPgYfPiQY",
        (13, 8, 21, 0),
        content="The capital of France is Paris.\n",
    ),
    # One chunk: a functionCall with no id, finishReason STOP -> tool_calls.
    "pai-gem-20flash-function-call.sse": Expected(
        "gemini-2.0-flash",
        "1lpeaMTxIpW1nvgP-O3vwQY",
        (52, 5, 57, 0),
        tool_calls=[("call_0", "get_capital", {"country": "France"})],
        finish="tool_calls",
    ),
    # Running usage: completion = candidates 80 + thoughts 35.
    "pai-gem-25flash-usage-mid.sse": Expected(
        "gemini-2.5-flash",
        "ru1garvBEoOiqtsP2fznmQw",
        (18, 115, 133, 35),
        content="\n".join(str(i) for i in range(1, 31)),
    ),
    # Google Search grounding: prompt 17 + tool-use prompt 102; completion
    # 241 + thoughts 412; total 772. groundingMetadata is {} on every chunk
    # but the last, which is kept as one item.
    "pai-gem-25pro-grounding.sse": Expected(
        "gemini-2.5-pro",
        "ftnJaMmAMcm-qtsPwvCCoAo",
        (119, 653, 772, 412),
        content=Text(
            "### Weather in San Francisco is Mild and Partly Cloudy Today\n\n**San Fr",
            "The chance of rain remains low throughout the day.",
            926,
        ),
        items=["groundingMetadata"],
    ),
    # Four thought summaries, then text whose first part carries the signature.
    "pai-gem-25pro-thought.sse": Expected(
        "gemini-2.5-pro",
        "beHBaJfEMIi-qtsP3769-Q8",
        (34, 1256, 1290, 787),
        content=Text(
            "This is a great question! Safely crossing the street is all about bein",
            "table**. Always assume a driver might not see you.",
            1938,
        ),
        reasoning=Text(
            "**Clarifying User Goals**\n\nI'm currently focused o",
            "ardless of specific circumstances or locations.\n\n\n",
            1575,
        ),
        signature=Text("CiIB0e2Kb6Syj1a961EfbWv4", "gMKlqm/dH8k=", 6152),
        items=["thoughtSignature"],
        signatures={"text": Text("CiIB0e2Kb6Syj1a961EfbWv4", "gMKlqm/dH8k=", 6152)},
    ),
    # A signed functionCall with empty args, then an empty text part with
    # finishReason STOP: the candidate called a function, so tool_calls.
    "pai-gem3pro-fc-thought-signature.sse": Expected(
        "gemini-3-pro-preview",
        "QUVVadTSNJ6_qtsPvN7J8Q0",
        (29, 212, 241, 202),
        tool_calls=[("call_0", "get_country", {})],
        finish="tool_calls",
        items=["thoughtSignature"],
        signatures={"call_0": Text("EpwICpkIAXLI2nxlU6gsWZaZ", "AXOk15QuFyU=", 1408)},
    ),
    # Vertex AI: one text part that carries Gemini 3's signature.
    "pai-vertex-gem3flash.sse": Expected(
        "gemini-3-flash-preview",
        "a9--aa6MOKL4vdIPz7X2iQ4",
        (5, 101, 106, 100),
        content="OK",
        signature=Text("CiQBjz1rX+z7CAOCNB0aLI7y", "ym+oXYHLqxz3", 724),
        items=["thoughtSignature"],
        signatures={"text": Text("CiQBjz1rX+z7CAOCNB0aLI7y", "ym+oXYHLqxz3", 724)},
        vertex=True,
    ),
    # JSON array: a thought, "Scoop", then an empty signed text part with STOP.
    "llmg-flash-json-array-stream.json": Expected(
        "gemini-3.6-flash",
        "IopyaseNCL-s-8YP7urOoAY",
        (11, 293, 304, 291),
        content="Scoop",
        reasoning=Text(
            "**Considering the Constraint**\n\nI'm focusing inten",
            "ain my reasoning. This constraint is paramount.\n\n\n",
            275,
        ),
        signature=Text("Eq0JCqoJARFNMg+W/PqAbyHO", "3y21OrQg8vJ4", 1600),
        items=["thoughtSignature"],
        signatures={"text": Text("Eq0JCqoJARFNMg+W/PqAbyHO", "3y21OrQg8vJ4", 1600)},
    ),
    # JSON array: a signed functionCall (args in the order sent), then STOP.
    "llmg-gem3-fc-json-array.json": Expected(
        "gemini-3-flash-preview",
        "6XJFadi3PJOx-sAPgJ3S6Qs",
        (60, 48, 108, 32),
        tool_calls=[("call_0", "multiply", {"y": 3, "x": 5})],
        finish="tool_calls",
        items=["thoughtSignature"],
        signatures={"call_0": Text("Et0BCtoBAXLI2nwMB4momyXT", "stlzuMygTHQ=", 300)},
    ),
}


@pytest.mark.shared
def test_every_recording_has_expectations() -> None:
    assert sorted(EXPECTED) == sorted(IDS)


def serve(emu: Emulator, path: Path, monkeypatch: pytest.MonkeyPatch) -> GenerationResponse:
    """Serve a recorded body and decode it with rill over HTTP."""
    body = path.read_bytes()
    content_type = "application/json" if path.suffix == ".json" else "text/event-stream"
    emu.enqueue(Script.of_body(body, content_type=content_type))
    expected = EXPECTED[path.name]
    if expected.vertex:
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj")
        monkeypatch.setenv("VERTEX_ACCESS_TOKEN", "token")
        return rill.generate("x", model=f"vertex/{expected.model}", base_url=f"{emu.url}/v1")
    return rill.generate(
        "x", model=f"gemini/{expected.model}", base_url=f"{emu.url}/v1beta", api_key="k"
    )


def check_text(value: str, expected: str | Text) -> None:
    if isinstance(expected, Text):
        expected.check(value)
    else:
        assert value == expected


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
def test_recorded_bodies(emu: Emulator, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = EXPECTED[path.name]
    response = serve(emu, path, monkeypatch)
    check_text(response.content, expected.content)
    check_text(response.reasoning, expected.reasoning)
    assert [(t.id, t.name, t.args) for t in response.tool_calls] == expected.tool_calls
    assert (response.finish_reason, response.native_finish_reason) == (
        expected.finish,
        expected.native,
    )
    usage = response.usage
    assert (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
        usage.reasoning_tokens,
    ) == expected.usage
    assert not usage.estimated and usage.cached_tokens == 0
    assert (response.model, response.id) == (expected.model, expected.id)
    if expected.signature is None:
        assert response.reasoning_signature is None
    else:
        assert response.reasoning_signature is not None
        expected.signature.check(response.reasoning_signature)
    assert [item["type"] for item in response.items] == expected.items
    signed = [i for i in response.items if i["type"] == "thoughtSignature"]
    assert len(signed) == len(expected.signatures)
    for item in signed:
        where = item.get("toolCallId") or item["part"]
        assert (item["part"] == "functionCall") == ("toolCallId" in item)
        expected.signatures[where].check(item["thoughtSignature"])
    assert response.refusal == "" and len(response.choices) == 1
    request = emu.requests[-1]
    if expected.vertex:
        assert request.path == (
            f"/v1/projects/proj/locations/us-central1/publishers/google/models/"
            f"{expected.model}:streamGenerateContent"
        )
        assert request.headers["authorization"] == "Bearer token"
    else:
        assert request.path == f"/v1beta/models/{expected.model}:streamGenerateContent"
        assert request.headers["x-goog-api-key"] == "k"
    assert request.query == {"alt": "sse"}


@pytest.mark.shared
def test_grounding_metadata_is_kept(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    [path] = [p for p in BODIES if p.name == "pai-gem-25pro-grounding.sse"]
    [item] = serve(emu, path, monkeypatch).items
    grounding = item["groundingMetadata"]
    assert grounding["webSearchQueries"] == ["weather in San Francisco today"]
    assert len(grounding["groundingChunks"]) == 5
    assert grounding["groundingChunks"][2]["web"]["title"] == "weather.gov"
    assert grounding["searchEntryPoint"]["renderedContent"].startswith("<style>")


@pytest.mark.shared
def test_each_function_call_is_one_whole_delta(emu: Emulator) -> None:
    [path] = [p for p in BODIES if p.name == "pai-gem-20flash-function-call.sse"]
    emu.enqueue(Script.of_body(path.read_bytes()))
    stream = rill.generate_stream("x", model="gemini/m", base_url=f"{emu.url}/v1beta", api_key="k")
    [chunk] = list(stream)
    assert chunk.tool_calls == (
        rill.ToolCallDelta(0, "call_0", "get_capital", '{"country":"France"}'),
    )
    assert chunk.finish_reason == "tool_calls" and chunk.raw["responseId"] == stream.response.id


@pytest.mark.shared
def test_the_recorded_requests_are_what_rill_builds() -> None:
    """The two plain requests of the corpus, rebuilt from rill's arguments."""
    folder = BODIES[0].parent
    recorded = json.loads((folder / "pai-gem-20flash-text.request.json").read_text())
    built = body_of(
        "What is the capital of France?",
        model="gemini/gemini-2.0-flash-exp",
        system="You are a helpful chatbot.",
        temperature=0.0,
    )
    assert built["contents"] == [
        {"role": "user", "parts": recorded["contents"][0]["parts"]},
    ]
    assert built["systemInstruction"]["parts"] == recorded["systemInstruction"]["parts"]
    assert built["generationConfig"] == recorded["generationConfig"]
    recorded = json.loads((folder / "pai-gem3pro-fc-thought-signature.request.json").read_text())
    declaration = recorded["tools"][0]["functionDeclarations"][0]
    built = body_of(
        recorded["contents"][0]["parts"][0]["text"],
        model="gemini/gemini-3-pro-preview",
        tools=[{"name": "get_country", "parameters": declaration["parameters_json_schema"]}],
    )
    assert built["contents"] == recorded["contents"]
    assert built["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_country",
                    "parametersJsonSchema": declaration["parameters_json_schema"],
                }
            ]
        }
    ]


# ---------------------------------------------------------------- byte splits


def decode(body: bytes, cuts: list[int], n: int = 1) -> tuple[list[Any], Any]:
    return decode_split(GeminiCodec().stream_decoder(call(n=n)), body, cuts)


@pytest.mark.shared
@pytest.mark.parametrize("path", BODIES, ids=IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_any_byte_split_gives_the_same_result(path: Path, data: st.DataObject) -> None:
    body = path.read_bytes()
    whole = decode(body, [])
    assert whole[1][1] is type(None) and whole[1][3]  # no error, complete
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    assert decode(body, cuts) == whole
    near = data.draw(st.integers(0, max(0, len(body) - 64)))
    assert decode(body, list(range(near, min(len(body), near + 64)))) == whole


# -------------------------------------------------------------- crafted bodies


def sse(*elements: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in elements)


def candidate(*parts: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"content": {"parts": list(parts), "role": "model"}, "index": index}
    if finish:
        out["finishReason"] = finish
    return out


def element(*candidates: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"candidates": list(candidates), "modelVersion": "gemini-test", **extra}


ERROR_BODY = (
    b'{\n  "error": {\n    "code": 400,\n    "message": "* GenerateContentRequest.contents: '
    b'contents is not specified\\n",\n    "status": "INVALID_ARGUMENT"\n  }\n}\n'
)


def generate(emu: Emulator, script: Script, **kw: Any) -> GenerationResponse:
    emu.enqueue(script)
    return rill.generate(
        "x", model="gemini/gemini-2.5-flash", base_url=f"{emu.url}/v1beta", api_key="k", **kw
    )


@pytest.mark.parametrize(
    ("native", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("OTHER", "error"),
        ("SOMETHING_NEW", "error"),
    ],
)
def test_finish_reasons(emu: Emulator, native: str, finish: str) -> None:
    body = sse(element(candidate({"text": "Hi"})), element(candidate({"text": "!"}, finish=native)))
    response = generate(emu, Script.of_body(body))
    assert (response.content, response.finish_reason) == ("Hi!", finish)
    assert response.native_finish_reason == native


def test_blocked_prompt(emu: Emulator) -> None:
    feedback = {"blockReason": "PROHIBITED_CONTENT", "safetyRatings": []}
    body = sse({"promptFeedback": feedback, "usageMetadata": {"promptTokenCount": 7}})
    response = generate(emu, Script.of_body(body))
    assert (response.finish_reason, response.native_finish_reason) == (
        "content_filter",
        "PROHIBITED_CONTENT",
    )
    assert response.items == [{"type": "promptFeedback", "promptFeedback": feedback}]
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (7, 7)


def test_error_status_with_an_event_stream_body(emu: Emulator) -> None:
    """Gemini answers a bad request with 400 and a pretty-printed JSON body."""
    with pytest.raises(rill.BadRequestError) as info:
        generate(emu, Script.of_status(400, error_body=ERROR_BODY))
    assert info.value.status_code == 400
    assert info.value.body["error"]["status"] == "INVALID_ARGUMENT"
    assert "contents is not specified" in str(info.value)
    with pytest.raises(rill.NotFoundError, match="Not Found"):
        generate(emu, Script.of_status(404))  # the emulator's own Gemini error body
    assert emu.requests[-1].path.endswith(":streamGenerateContent")


def test_an_error_body_under_200_is_a_stream_error(emu: Emulator) -> None:
    for body in (ERROR_BODY, b"[" + ERROR_BODY + b"]"):
        with pytest.raises(rill.ProviderStreamError, match="contents is not specified") as info:
            generate(emu, Script.of_body(body, content_type="text/event-stream"))
        assert info.value.error["status"] == "INVALID_ARGUMENT" and info.value.code == 400
        assert info.value.partial is not None and info.value.partial.content == ""


def test_an_error_in_the_stream_keeps_the_partial(emu: Emulator) -> None:
    error = {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    body = sse(element(candidate({"text": "Hello"})), {"error": error})
    with pytest.raises(rill.ProviderStreamError, match="overloaded") as info:
        generate(emu, Script.of_body(body))
    assert info.value.partial is not None and info.value.partial.content == "Hello"


@pytest.mark.parametrize("style", ["event", "chunk"])
def test_an_injected_error_after_some_output(emu: Emulator, style: Any) -> None:
    error = {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}
    script = Script.of_text("one two three", faults=(Fault.error_event_after(2, error, style),))
    with pytest.raises(rill.ProviderStreamError, match="Internal error") as info:
        generate(emu, script)
    assert info.value.partial is not None and info.value.partial.content == "one two"


def test_a_cut_stream_is_incomplete(emu: Emulator) -> None:
    body = sse(element(candidate({"text": "Hel"})))
    with pytest.raises(rill.IncompleteStreamError) as info:
        generate(emu, Script.of_body(body))
    assert info.value.partial is not None and info.value.partial.content == "Hel"


def test_bad_bytes_are_protocol_errors(emu: Emulator) -> None:
    body = sse(element(candidate({"text": "Hel"}))) + b"data: {nope\r\n\r\n"
    with pytest.raises(rill.ProtocolError) as info:
        generate(emu, Script.of_body(body))
    assert info.value.partial is not None and info.value.partial.content == "Hel"
    with pytest.raises(rill.ProtocolError, match="neither Gemini SSE nor JSON"):
        generate(emu, Script.of_body(b"<html>oops</html>", content_type="text/html"))
    with pytest.raises(rill.ProtocolError, match="expected a JSON object"):
        generate(emu, Script.of_body(b"[1]", content_type="application/json"))
    for odd in ({"candidates": [1]}, {"candidates": [{"content": {"parts": ["x"]}}]}):
        with pytest.raises(rill.ProtocolError, match="gemini: unexpected response element"):
            generate(emu, Script.of_body(sse(odd)))


def test_two_candidates_complete_when_both_finish(emu: Emulator) -> None:
    body = sse(
        element(candidate({"text": "A"}), candidate({"text": "B"}, index=1)),
        element(candidate({"text": "a"}, finish="STOP")),
    )
    with pytest.raises(rill.IncompleteStreamError):
        generate(emu, Script.of_body(body), n=2)
    body += sse(element(candidate({"text": "b"}, finish="MAX_TOKENS", index=1)))
    response = generate(emu, Script.of_body(body), n=2)
    assert [(c.content, c.finish_reason) for c in response.choices] == [
        ("Aa", "stop"),
        ("Bb", "length"),
    ]


def test_parts_and_metadata_kept_as_items(emu: Emulator) -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
    result = {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}}
    citations = {"citationSources": [{"uri": "https://example.com"}]}
    body = sse(
        element(candidate(code, result, {"thoughtSignature": "c2ln"})),
        element(
            {**candidate({"text": "1"}, finish="STOP"), "citationMetadata": citations},
            usageMetadata={
                "promptTokenCount": 10,
                "cachedContentTokenCount": 4,
                "candidatesTokenCount": 3,
                "totalTokenCount": 13,
            },
        ),
    )
    response = generate(emu, Script.of_body(body))
    assert response.items == [
        {"type": "part", "part": code},
        {"type": "part", "part": result},
        {"type": "thoughtSignature", "part": "text", "thoughtSignature": "c2ln"},
        {"type": "citationMetadata", "citationMetadata": citations},
    ]
    assert response.reasoning_signature == "c2ln"
    assert (response.usage.prompt_tokens, response.usage.cached_tokens) == (10, 4)
    # Sent back in the model turn, verbatim.
    parts = body_of([Message(MessageRole.USER, "go"), response.to_message()])["contents"][1][
        "parts"
    ]
    assert parts == [{"text": "1", "thoughtSignature": "c2ln"}, code, result]


def test_logprobs(emu: Emulator) -> None:
    chosen = [{"token": "Hi", "logProbability": -0.1}, {"token": "!", "logProbability": -0.2}]
    top = [{"candidates": [chosen[0]]}, {"candidates": [chosen[1]]}]
    body = sse(
        element(
            {
                **candidate({"text": "Hi!"}, finish="STOP"),
                "logprobsResult": {"chosenCandidates": chosen, "topCandidates": top},
            }
        )
    )
    response = generate(emu, Script.of_body(body), logprobs=True, top_logprobs=1)
    assert response.logprobs == [
        {**chosen[0], "topCandidates": [chosen[0]]},
        {**chosen[1], "topCandidates": [chosen[1]]},
    ]


def test_a_whole_generate_content_body(emu: Emulator) -> None:
    """A non-streamed ``generateContent`` body, sent where a stream was asked for."""
    whole = element(
        candidate({"text": "Hi", "thoughtSignature": "c2ln"}, finish="STOP"),
        usageMetadata={"promptTokenCount": 2, "candidatesTokenCount": 1, "totalTokenCount": 3},
    )
    body = json.dumps(whole, indent=2).encode()
    response = generate(emu, Script.of_body(body, content_type="application/json"))
    assert (response.content, response.finish_reason, response.usage.total_tokens) == (
        "Hi",
        "stop",
        3,
    )
    assert GeminiCodec().decode_response(WHOLE, body)[0].content == "Hi"
    with pytest.raises(rill.ProviderStreamError):
        GeminiCodec().decode_response(WHOLE, ERROR_BODY)


# ------------------------------------------------------------------- emulator

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {}}}}
CONVERSATION = Script(
    replies=(
        Reply(
            text="Let me look both up.",
            reasoning="The user wants weather and time.",
            tool_calls=(
                ScriptedToolCall("get_weather", {"city": "Paris"}),
                ScriptedToolCall("get_time", {"tz": "Europe/Paris"}),
            ),
        ),
    )
)


def signature(seq_where: str) -> str:
    return base64.b64encode(f"rill-signature/{seq_where}".encode()).decode()


def check_first_turn(response: GenerationResponse, seq: int, prompt_words: int) -> None:
    assert response.content == "Let me look both up."
    assert response.reasoning == "The user wants weather and time."
    assert [(t.id, t.name, t.args) for t in response.tool_calls] == [
        ("call_0", "get_weather", {"city": "Paris"}),
        ("call_1", "get_time", {"tz": "Europe/Paris"}),
    ]
    assert (response.finish_reason, response.native_finish_reason) == ("tool_calls", "STOP")
    assert response.reasoning_signature == signature(f"{seq}/0/text")
    assert response.items == [
        {
            "type": "thoughtSignature",
            "part": "text",
            "thoughtSignature": signature(f"{seq}/0/text"),
        },
        {
            "type": "thoughtSignature",
            "part": "functionCall",
            "toolCallId": "call_0",
            "thoughtSignature": signature(f"{seq}/0/call"),
        },
    ]
    usage = response.usage
    # The emulator counts words of the prompt and pieces of the output.
    assert (usage.prompt_tokens, usage.reasoning_tokens, usage.estimated) == (
        prompt_words,
        7,
        False,
    )
    assert usage.completion_tokens == 7 + 6 + 2 and response.model == "gemini-2.5-flash"


def test_scripted_conversation_and_round_trip(emu: Emulator) -> None:
    emu.enqueue(CONVERSATION, Script.of_text("Sunny, and it is noon."))
    first = rill.generate(
        "Weather and time in Paris?",
        model="gemini/gemini-2.5-flash",
        system="Be brief.",
        base_url=f"{emu.url}/v1beta",
        api_key="k",
        tools=[WEATHER, TIME],
    )
    assert first.id is not None
    seq = int(first.id[4:10])
    check_first_turn(first, seq, 5 + 2)
    messages = [
        Message(MessageRole.USER, "Weather and time in Paris?"),
        first.to_message(),
        Message(MessageRole.TOOL, '{"sky": "sunny"}', tool_call_id="call_0"),
        Message(MessageRole.TOOL, "12:00", tool_call_id="call_1"),
    ]
    second = rill.generate(
        messages, model="gemini/gemini-2.5-flash", base_url=f"{emu.url}/v1beta", api_key="k"
    )
    assert (second.content, second.finish_reason) == ("Sunny, and it is noon.", "stop")
    sent = emu.requests[-1].json
    assert sent["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {"text": "The user wants weather and time.", "thought": True},
                {"text": "Let me look both up.", "thoughtSignature": signature(f"{seq}/0/text")},
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": signature(f"{seq}/0/call"),
                },
                {"functionCall": {"name": "get_time", "args": {"tz": "Europe/Paris"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"sky": "sunny"}}},
                {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}},
            ],
        },
    ]


async def test_scripted_conversation_async_stream(emu: Emulator) -> None:
    emu.enqueue(CONVERSATION)
    stream = rill.agenerate_stream(
        "Weather and time in Paris?",
        model="gemini/gemini-2.5-flash",
        base_url=f"{emu.url}/v1beta",
        api_key="k",
        tools=[WEATHER, TIME],
    )
    chunks = [chunk async for chunk in stream]
    [calls] = [c.tool_calls for c in chunks if c.tool_calls]
    assert [(d.index, d.id, d.name) for d in calls] == [
        (0, "call_0", "get_weather"),
        (1, "call_1", "get_time"),
    ]
    response = stream.response
    assert response.id is not None
    check_first_turn(response, int(response.id[4:10]), 5)


def test_scripted_ids_lengths_and_candidates(emu: Emulator) -> None:
    script = Script(
        replies=(Reply(tool_calls=(ScriptedToolCall("get_time", {}, id="fc-1"),)),),
        usage=(10, 4, 1, 2),
    )
    response = generate(emu, script, tools=[TIME])
    assert [(t.id, t.name, t.arguments) for t in response.tool_calls] == [
        ("fc-1", "get_time", "{}")
    ]
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (10, 4, 1)
    assert (usage.cached_tokens, usage.total_tokens) == (2, 14)
    many = generate(emu, Script(replies=(Reply(text="one two", finish_reason="length"),)), n=2)
    assert [(c.index, c.content, c.finish_reason) for c in many.choices] == [
        (0, "one two", "length"),
        (1, "one two", "length"),
    ]


def test_the_emulator_json_array_and_generate_content(emu: Emulator) -> None:
    """Without ``alt=sse`` the emulator streams a JSON array, and
    ``:generateContent`` answers with one body; both decode like the SSE stream."""
    request = {"contents": [{"role": "user", "parts": [{"text": "Weather and time?"}]}]}
    bodies = []
    for path in (":streamGenerateContent", ":generateContent"):
        emu.enqueue(CONVERSATION)
        reply = httpx.post(f"{emu.url}/v1beta/models/gemini-2.5-flash{path}", json=request)
        assert reply.status_code == 200
        bodies.append(reply.content)
    array, whole = bodies
    assert array.startswith(b'[{\n  "candidates": [') and b"\n,\r\n{" in array
    assert array.endswith(b"\n]")
    for body in (array, whole):
        response = decode(body, [])[1][0]
        assert response.content == "Let me look both up."
        assert [t.name for t in response.tool_calls] == ["get_weather", "get_time"]
        assert response.finish_reason == "tool_calls"
        assert response.reasoning_signature is not None and len(response.items) == 2
    whole_response = decode(whole, [])[1][0]
    array_response = decode(array, [])[1][0]
    assert whole_response.usage == array_response.usage


# ---------------------------------------------------- endpoints and credentials


def prepared(prompt: Any = "Hi", **options: Any) -> Any:
    options.setdefault("model", "gemini/gemini-2.5-flash")
    options.setdefault("api_key", "sk-secret")
    return prepare_request(prompt, options)


def body_of(prompt: Any = "Hi", **options: Any) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(prepared(prompt, **options).http.body)
    return result


def test_gemini_endpoint_and_key_header(monkeypatch: pytest.MonkeyPatch) -> None:
    http = prepared().http
    assert http.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/"
        "gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert http.headers["x-goog-api-key"] == "sk-secret" and "authorization" not in http.headers
    assert "sk-secret" not in http.url and "sk-secret" not in repr(http)
    monkeypatch.setenv("GOOGLE_API_KEY", "from-google")
    assert prepared(api_key=None).http.headers["x-goog-api-key"] == "from-google"
    monkeypatch.setenv("GEMINI_API_KEY", "from-gemini")
    monkeypatch.setenv("GEMINI_BASE_URL", "http://proxy.local/v1beta/")
    http = prepared(api_key=None, model="gemini/tunedModels/my-model").http
    assert http.headers["x-goog-api-key"] == "from-gemini"
    assert (
        http.url == "http://proxy.local/v1beta/tunedModels/my-model:streamGenerateContent?alt=sse"
    )
    assert get_provider("gemini").resolve_base_url(None) == "http://proxy.local/v1beta"


def test_bare_gemini_model_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    http = prepare_request("Hi", {"model": "gemini-2.5-pro"}).http
    assert "/models/gemini-2.5-pro:streamGenerateContent" in http.url


def test_missing_gemini_key() -> None:
    with pytest.raises(rill.MissingAPIKeyError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        prepared(api_key=None)


def test_the_key_stays_out_of_errors(emu: Emulator) -> None:
    emu.enqueue(Script.of_status(401))
    with pytest.raises(rill.AuthenticationError) as info:
        rill.generate("x", model="gemini/m", base_url=f"{emu.url}/v1beta", api_key="sk-secret-123")
    assert "sk-secret-123" not in str(info.value) and "sk-secret-123" not in repr(info.value)
    assert "sk-secret-123" not in emu.requests[-1].path
    assert info.value.body["error"]["status"] == "UNAUTHENTICATED"


def test_vertex_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-proj")
    monkeypatch.setenv("VERTEX_ACCESS_TOKEN", "ya29.token")
    http = prepared(model="vertex/gemini-2.5-flash", api_key=None).http
    assert http.url == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/"
        "us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert http.headers["authorization"] == "Bearer ya29.token"
    assert "x-goog-api-key" not in http.headers
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "global")
    http = prepared(model="vertex/gemini-3-pro-preview", api_key="other").http
    assert http.url.startswith(
        "https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers/"
    )
    assert http.headers["authorization"] == "Bearer other"
    name = "projects/p2/locations/europe-west4/endpoints/123"
    assert prepared(model=f"vertex/{name}").http.url == (
        f"https://aiplatform.googleapis.com/v1/{name}:streamGenerateContent?alt=sse"
    )
    url = prepared(
        model="vertex/publishers/mistralai/models/m", base_url="http://h/v1beta1"
    ).http.url
    assert url == (
        "http://h/v1beta1/projects/my-proj/locations/global/publishers/mistralai/models/m"
        ":streamGenerateContent?alt=sse"
    )


def test_vertex_misconfiguration(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(rill.MissingAPIKeyError, match=r"VERTEX_ACCESS_TOKEN.*gcloud auth"):
        prepared(model="vertex/gemini-2.5-flash", api_key=None)
    with pytest.raises(rill.ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        prepared(model="vertex/gemini-2.5-flash")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us/../x")
    with pytest.raises(rill.ConfigurationError, match="GOOGLE_CLOUD_LOCATION"):
        prepared(model="vertex/gemini-2.5-flash")


async def test_vertex_through_the_emulator(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    emu.enqueue(Script.of_text("Hello from Vertex."))
    response = await rill.agenerate(
        "Hi", model="vertex/gemini-2.5-flash", base_url=f"{emu.url}/v1", api_key="tok"
    )
    assert (response.content, response.provider) == ("Hello from Vertex.", "vertex")
    request = emu.requests[-1]
    assert request.path == (
        "/v1/projects/p/locations/europe-west4/publishers/google/models/"
        "gemini-2.5-flash:streamGenerateContent"
    )
    assert request.headers["authorization"] == "Bearer tok"


# ------------------------------------------------------------- request building


def test_system_and_developer_messages_become_the_system_instruction() -> None:
    body = body_of(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": "Use French."},
            {"role": "user", "content": "Again"},
        ]
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Use French."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}, {"text": "Again"}]}]
    assert "generationConfig" not in body and "tools" not in body


def test_generation_config() -> None:
    body = body_of(
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop="END",
        seed=7,
        n=2,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        top_logprobs=3,
        parallel_tool_calls=True,
    )
    assert body["generationConfig"] == {
        "temperature": 0.5,
        "topP": 0.9,
        "maxOutputTokens": 100,
        "stopSequences": ["END"],
        "seed": 7,
        "candidateCount": 2,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "responseLogprobs": True,
        "logprobs": 3,
    }
    assert body_of(stop=["a", "b"], logprobs=False)["generationConfig"] == {
        "stopSequences": ["a", "b"],
        "responseLogprobs": False,
    }


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    config = body_of(
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    config = body_of(response_format={"type": "json_object"})["generationConfig"]
    assert config == {"responseMimeType": "application/json"}
    assert "generationConfig" not in body_of(response_format={"type": "text"})
    with pytest.raises(rill.InvalidRequestError, match="json_schema needs"):
        body_of(response_format={"type": "json_schema", "json_schema": {"name": "x"}})
    with pytest.raises(rill.InvalidRequestError, match="not supported"):
        body_of(response_format={"type": "xml"})


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-pro", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-2.5-pro", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "high", "includeThoughts": True}),
        ("gemini-3-flash-preview", "none", {"thinkingLevel": "minimal", "includeThoughts": True}),
        ("gemini-3.5-flash", "medium", {"thinkingLevel": "medium", "includeThoughts": True}),
    ],
)
def test_reasoning_effort(model: str, effort: str, thinking: dict[str, Any]) -> None:
    body = body_of(model=f"gemini/{model}", reasoning_effort=effort)
    assert body["generationConfig"] == {"thinkingConfig": thinking}


def test_unsupported_parameters_fail_at_the_call() -> None:
    with pytest.raises(rill.InvalidRequestError, match="reasoning_effort must be one of"):
        body_of(reasoning_effort="max")
    with pytest.raises(rill.InvalidRequestError, match="'user'"):
        body_of(user="u-1")
    with pytest.raises(rill.InvalidRequestError, match="parallel_tool_calls=False"):
        body_of(parallel_tool_calls=False)
    with pytest.raises(rill.InvalidRequestError, match="needs tools"):
        body_of(tool_choice="required")


def test_tools_and_tool_choice() -> None:
    body = body_of(tools=[WEATHER, TIME], tool_choice="get_time")
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city.",
                    "parametersJsonSchema": WEATHER["parameters"],
                },
                {"name": "get_time", "parametersJsonSchema": TIME["parameters"]},
            ]
        }
    ]
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}
    }
    for choice, mode in (("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")):
        config = body_of(tools=[TIME], tool_choice=choice)["toolConfig"]
        assert config == {"functionCallingConfig": {"mode": mode}}
    assert "toolConfig" not in body_of(tools=[TIME])


def test_tool_results_find_their_function_names() -> None:
    messages = [
        {"role": "user", "content": "Go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                ToolCall(id="b", name="g", arguments='{"x": [1]}'),
            ],
        },
        {"role": "tool", "tool_call_id": "b", "content": "[1, 2]"},
        {"role": "tool", "tool_call_id": "a", "content": '{"ok": true}'},
        {"role": "assistant", "tool_calls": [ToolCall(id="a", name="h", arguments="")]},
        {"role": "tool", "tool_call_id": "a", "content": None},
        {"role": "tool", "tool_call_id": "zzz", "name": "named", "content": "done"},
    ]
    contents = body_of(messages)["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "f", "args": {}}},
            {"functionCall": {"name": "g", "args": {"x": [1]}}},
        ],
    }
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "g", "response": {"output": "[1, 2]"}}},
        {"functionResponse": {"name": "f", "response": {"ok": True}}},
    ]
    assert contents[3] == {"role": "model", "parts": [{"functionCall": {"name": "h", "args": {}}}]}
    assert contents[4]["parts"] == [
        {"functionResponse": {"name": "h", "response": {"output": ""}}},  # the latest "a"
        {"functionResponse": {"name": "named", "response": {"output": "done"}}},
    ]
    assert "id" not in str(contents)  # Gemini rejects ids on calls and responses


def test_tool_result_errors() -> None:
    with pytest.raises(rill.InvalidRequestError, match="answers no earlier assistant tool call"):
        body_of([{"role": "user", "content": "Go"}, {"role": "tool", "tool_call_id": "x"}])
    bad = {"role": "assistant", "tool_calls": [ToolCall(id="a", name="f", arguments='{"x": ')]}
    with pytest.raises(rill.InvalidRequestError, match="not a JSON object"):
        body_of([{"role": "user", "content": "Go"}, bad])


def test_gemini_3_turns_get_a_placeholder_signature() -> None:
    messages = [
        {"role": "user", "content": "Go"},
        {"role": "assistant", "tool_calls": [ToolCall("a", "f", "{}"), ToolCall("b", "g", "{}")]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "content": "2"},
    ]
    parts = body_of(messages, model="gemini/gemini-3-pro-preview")["contents"][1]["parts"]
    assert parts == [
        {
            "functionCall": {"name": "f", "args": {}},
            "thoughtSignature": "skip_thought_signature_validator",
        },
        {"functionCall": {"name": "g", "args": {}}},
    ]
    parts = body_of(messages, model="gemini/gemini-2.5-pro")["contents"][1]["parts"]
    assert "thoughtSignature" not in parts[0]


def test_signatures_go_back_on_their_own_kind_of_part() -> None:
    def model_parts(*signed: str, **fields: Any) -> Any:
        items = [{"type": "thoughtSignature", "part": p, "thoughtSignature": p[:2]} for p in signed]
        message = {"role": "assistant", "items": items, **fields}
        return body_of([{"role": "user", "content": "Go"}, message])["contents"][1]["parts"]

    assert model_parts("text", content="A", reasoning="R") == [
        {"text": "R", "thought": True},
        {"text": "A", "thoughtSignature": "te"},
    ]
    assert model_parts("thought", content="A", reasoning="R") == [
        {"text": "R", "thought": True, "thoughtSignature": "th"},
        {"text": "A"},
    ]
    assert model_parts("text", content="", reasoning="R") == [
        {"text": "R", "thought": True},
        {"text": "", "thoughtSignature": "te"},
    ]
    assert model_parts("thought", content="") == [
        {"text": "", "thought": True, "thoughtSignature": "th"}
    ]
    image = {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}
    assert model_parts("text", content=[image]) == [image, {"text": "", "thoughtSignature": "te"}]
    # A reasoning signature alone (another provider's, perhaps) is never sent.
    assert model_parts(content="A", reasoning="R", reasoning_signature="other") == [
        {"text": "R", "thought": True},
        {"text": "A"},
    ]


def test_user_content_parts() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
        {"fileData": {"fileUri": "gs://bucket/doc.pdf", "mimeType": "application/pdf"}},
    ]
    [turn] = body_of([{"role": "user", "content": content}])["contents"]
    assert turn["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}},
        {"fileData": {"fileUri": "https://example.com/cat.jpg", "mimeType": "image/jpeg"}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "UklG"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
        {"fileData": {"fileUri": "gs://bucket/doc.pdf", "mimeType": "application/pdf"}},
    ]
    with pytest.raises(rill.InvalidRequestError, match="is not supported"):
        body_of([{"role": "user", "content": [{"type": "video", "video": "x"}]}])


def test_extra_body_merges_into_the_body() -> None:
    body = body_of(
        temperature=0.2,
        extra_body={
            "generationConfig": {"topK": 5},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"}],
        },
    )
    assert body["generationConfig"] == {"temperature": 0.2, "topK": 5}
    assert body["safetySettings"][0]["threshold"] == "OFF"
