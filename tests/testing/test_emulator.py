"""The emulator, checked from outside with clients that are not rill's own:
plain httpx, raw sockets and the official ``openai`` SDK."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rill.testing
from rill.testing import Emulator, Fault, Reply, Script, ScriptedToolCall
from rill.testing._openai_chat import OpenAIChatEncoder
from rill.testing._script import RecordedRequest, split_pieces

WIRE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "wire"
CHAT: dict[str, Any] = {
    "model": "gpt-test",
    "messages": [{"role": "user", "content": "Say hello to the world"}],
}
STREAM: dict[str, Any] = {**CHAT, "stream": True}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emu.base_url, api_key="test", max_retries=0) as sdk:
        yield sdk


def post(emu: Emulator, body: dict[str, Any], **kw: Any) -> httpx.Response:
    with httpx.Client(timeout=5) as http:
        return http.post(f"{emu.base_url}/chat/completions", json=body, **kw)


def events(body: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of an OpenAI stream, without ``[DONE]``."""
    frames = body.split(b"\n\n")
    assert frames[-1] == b""
    return [orjson.loads(f[6:]) for f in frames[:-1] if f != b"data: [DONE]"]


# -- the scripted values ------------------------------------------------------


@given(st.text())
def test_pieces_rebuild_the_text(text: str) -> None:
    assert "".join(split_pieces(text)) == text


def test_pieces_keep_the_space_with_the_word() -> None:
    assert split_pieces("Hello there, world!") == ["Hello", " there", ",", " world", "!"]
    assert split_pieces("a  b\n\nc") == ["a", " ", " b", "\n\n", "c"]


@given(
    st.text(),
    st.text(),
    st.integers(min_value=1, max_value=3),
    st.sampled_from(["reasoning_content", "reasoning"]),
)
def test_stream_frames_accumulate_to_the_script(
    text: str, reasoning: str, n: int, field: str
) -> None:
    script = Script(replies=(Reply(text=text, reasoning=reasoning, reasoning_field=field),))
    request = RecordedRequest("POST", "/v1/chat/completions", {}, {}, b"", {**STREAM, "n": n})
    frames = OpenAIChatEncoder().stream(script, request, seq=1, created=0)
    assert frames[-1] == b"data: [DONE]\n\n"
    content = [""] * n
    thought = [""] * n
    for event in events(b"".join(frames)):
        (choice,) = event["choices"]
        content[choice["index"]] += choice["delta"].get("content") or ""
        thought[choice["index"]] += choice["delta"].get(field) or ""
    assert content == [text] * n
    assert thought == [reasoning] * n


def test_script_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one Reply"):
        Script(replies=())
    with pytest.raises(ValueError, match="tokens_per_second"):
        Script.of_text("x", tokens_per_second=0)
    with pytest.raises(ValueError, match=">= 0"):
        Fault.close_after(-1)


def test_all_is_complete() -> None:
    public = {name for name in dir(rill.testing) if name[0].isupper() and name != "TYPE_CHECKING"}
    public.discard("Any")
    public |= {name for name in dir(rill.testing) if name in ("load_scripts",)}
    assert public == set(rill.testing.__all__)
    for name in rill.testing.__all__:
        assert getattr(rill.testing, name).__module__.startswith("rill.testing.")


# -- the OpenAI protocol, through the official SDK ----------------------------------


def test_sdk_streams_text_and_usage(emu: Emulator, client: openai.OpenAI) -> None:
    emu.enqueue(Script.of_text("Hello there, world"))
    stream = client.chat.completions.create(
        **CHAT, stream=True, stream_options={"include_usage": True}
    )
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text == "Hello there, world"
    assert finish == "stop"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        5,
        4,
        9,
    )  # "Hello", " there", ",", " world"
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_sdk_streams_parallel_tool_calls(emu: Emulator, client: openai.OpenAI) -> None:
    emu.enqueue(
        Script.of_tool_calls(
            [
                ScriptedToolCall("get_weather", {"city": "Edinburgh", "unit": "celsius"}),
                ScriptedToolCall("get_time", '{"tz": "Europe/London"}', id="call_given"),
            ]
        )
    )
    with client.chat.completions.stream(**CHAT) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    (choice,) = final.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_1", "get_weather", '{"city":"Edinburgh","unit":"celsius"}'),
        ("call_given", "get_time", '{"tz": "Europe/London"}'),
    ]


def test_tool_call_fragments_match_the_wire_format(emu: Emulator) -> None:
    emu.enqueue(Script.of_tool_calls([ScriptedToolCall("f", {"a": 1})]))
    deltas = [e["choices"][0]["delta"] for e in events(post(emu, STREAM).content)]
    assert deltas[0] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "f", "arguments": ""},
            }
        ],
        "refusal": None,
    }
    assert all(d["tool_calls"][0].keys() == {"index", "function"} for d in deltas[1:-1])
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[1:-1]) == '{"a":1}'
    assert deltas[-1] == {}


def test_sdk_streams_n_choices_interleaved(emu: Emulator, client: openai.OpenAI) -> None:
    emu.enqueue(Script.of_text("one two three"))
    texts = ["", ""]
    order = []
    for chunk in client.chat.completions.create(**CHAT, n=2, stream=True):
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            order.append(choice.index)
    assert texts == ["one two three", "one two three"]
    assert order == [0, 0, 1, 1, 0, 1, 0, 1, 0, 1]  # as OpenAI interleaves them


def test_sdk_streams_a_refusal(emu: Emulator, client: openai.OpenAI) -> None:
    emu.enqueue(Script(replies=(Reply(refusal="I can't help with that."),)))
    with client.chat.completions.stream(**CHAT) as stream:
        for _ in stream:
            pass
        message = stream.get_final_completion().choices[0].message
    assert message.refusal == "I can't help with that."
    assert not message.content


def test_reasoning_streams_before_text(emu: Emulator) -> None:
    emu.enqueue(
        Script(replies=(Reply(text="42.", reasoning="Let me think.", reasoning_field="reasoning"),))
    )
    deltas = [e["choices"][0]["delta"] for e in events(post(emu, STREAM).content)]
    keys = [next(iter(d)) for d in deltas[1:-1]]
    assert keys == ["reasoning"] * 4 + ["content"] * 2
    assert "".join(d.get("reasoning", "") for d in deltas) == "Let me think."


def test_logprobs_when_asked(emu: Emulator) -> None:
    emu.enqueue(Script(replies=(Reply(text="Foo!", logprobs=True),)))
    choices = [e["choices"][0] for e in events(post(emu, {**STREAM, "logprobs": True}).content)]
    assert choices[0]["logprobs"] == {"content": [], "refusal": None}
    tokens = [c["logprobs"]["content"][0] for c in choices[1:-1]]
    assert [(t["token"], t["bytes"]) for t in tokens] == [("Foo", [70, 111, 111]), ("!", [33])]
    assert choices[-1]["logprobs"] is None


def test_sdk_non_streamed(emu: Emulator, client: openai.OpenAI) -> None:
    emu.enqueue(
        Script.of_text("Hi!", model="gpt-echo", usage=(10, 2)),
        Script.of_tool_calls([ScriptedToolCall("f", {})], usage=None),
    )
    first = client.chat.completions.create(**CHAT)
    assert first.model == "gpt-echo"
    assert first.choices[0].message.content == "Hi!"
    assert first.usage is not None
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (10, 2)
    second = client.chat.completions.create(**CHAT)
    assert second.choices[0].message.content is None
    assert second.choices[0].finish_reason == "tool_calls"
    assert second.usage is None


def test_default_script_when_queue_is_empty(emu: Emulator) -> None:
    emu.default = Script.of_text("fallback")
    emu.enqueue(Script.of_text("first"))
    answers = [post(emu, CHAT).json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert answers == ["first", "fallback", "fallback"]


# -- recorded bodies ---------------------------------------------------------------------


def test_body_is_served_byte_for_byte(emu: Emulator) -> None:
    body = b"".join(b'data: {"n":%d}\n\n' % i for i in range(50)) + b"data: [DONE]\n\n"
    emu.enqueue(Script.of_body(body, body_chunk_size=7))
    with (
        httpx.Client(timeout=5) as http,
        http.stream("POST", f"{emu.base_url}/chat/completions", json=STREAM) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["cache-control"] == "no-cache"
        received = b"".join(response.iter_raw())
    assert received == body


@pytest.mark.shared
def test_recorded_fixture_is_served_byte_for_byte(emu: Emulator) -> None:
    fixture = WIRE / "openai-chat" / "oa-plain-text.sse"
    if not fixture.exists():
        pytest.skip(f"recorded corpus not found at {fixture}")
    emu.enqueue(Script.of_body(fixture.read_bytes()))
    assert post(emu, STREAM).content == fixture.read_bytes()


# -- faults ------------------------------------------------------------------------------


def test_close_after_sends_exactly_n_bytes_then_drops(emu: Emulator) -> None:
    body = b"data: " + b"x" * 1000 + b"\n\n"
    emu.enqueue(Script.of_body(body, faults=(Fault.close_after(123),)))
    received = bytearray()

    def read_all(response: httpx.Response) -> None:
        for chunk in response.iter_raw():
            received.extend(chunk)

    with (
        httpx.Client(timeout=5) as http,
        http.stream("POST", f"{emu.base_url}/chat/completions", json=STREAM) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        read_all(response)
    assert bytes(received) == body[:123]


def test_close_after_breaks_the_sdk_stream(emu: Emulator, client: openai.OpenAI) -> None:
    emu.enqueue(Script.of_text("a b c d e f g", faults=(Fault.close_after(600),)))
    stream = client.chat.completions.create(**CHAT, stream=True)
    # Newer SDKs wrap the transport error, older ones let it through.
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        list(stream)


def test_close_after_cuts_a_json_body(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b c", faults=(Fault.close_after(20), Fault.garbage_after(0))))
    with pytest.raises(httpx.RemoteProtocolError):
        post(emu, CHAT)


def test_stall_makes_the_read_time_out(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b c", faults=(Fault.stall_after(50, 5.0),)))
    timeout = httpx.Timeout(5.0, read=0.2)
    with (
        httpx.Client(timeout=timeout) as http,
        http.stream("POST", f"{emu.base_url}/chat/completions", json=STREAM) as response,
        pytest.raises(httpx.ReadTimeout),
    ):
        response.read()


def test_stall_then_carry_on(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b c", faults=(Fault.stall_after(10, 0.05),)))
    assert post(emu, STREAM).content.endswith(b"data: [DONE]\n\n")


def test_error_event_groq_style(emu: Emulator) -> None:
    error = {"message": "boom", "type": "server_error", "code": "overloaded"}
    emu.enqueue(Script.of_text("a b c d", faults=(Fault.error_event_after(2, error),)))
    frames = post(emu, STREAM).content.split(b"\n\n")
    assert len(frames) == 4  # two events, the error, the end
    assert frames[2] == b'event: error\ndata: {"error":' + orjson.dumps(error) + b"}"
    assert frames[3] == b""


def test_error_event_openrouter_style(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b c d", faults=(Fault.error_event_after(1, style="chunk"),)))
    frames = post(emu, STREAM).content.split(b"\n\n")
    assert frames[1].startswith(b'data: {"error":{"message":')
    assert frames[2:] == [b"data: [DONE]", b""]


def test_garbage_then_continue(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b", faults=(Fault.garbage_after(1, data=b"\xff\xfe junk\n\n"),)))
    body = post(emu, STREAM).content
    assert body.split(b"\n\n")[1] == b"\xff\xfe junk"
    assert body.endswith(b"data: [DONE]\n\n")


def test_garbage_then_close(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b", faults=(Fault.garbage_after(1, then="close"),)))
    with pytest.raises(httpx.RemoteProtocolError):
        post(emu, STREAM)


def test_close_cancels_a_stalled_response() -> None:
    emu = Emulator().start()
    emu.enqueue(Script.of_text("a", faults=(Fault.stall_after(0, 30.0),)))
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        body = orjson.dumps(STREAM)
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%b"
            % (len(body), body)
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
        emu.close()
        assert sock.recv(4096) == b""  # the server hung up instead of waiting 30 s
    assert emu.open_connections == 0


# -- HTTP --------------------------------------------------------------------------------


def test_error_status_with_retry_after(emu: Emulator, client: openai.OpenAI) -> None:
    emu.enqueue(Script.of_status(429, headers={"Retry-After": "1"}))
    response = post(emu, STREAM)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"

    emu.enqueue(Script.of_status(503, error_body={"error": {"message": "busy"}}))
    with pytest.raises(openai.InternalServerError, match="busy"):
        client.chat.completions.create(**CHAT)


def test_unknown_path_and_bad_json(emu: Emulator) -> None:
    with httpx.Client(timeout=5) as http:
        assert http.post(f"{emu.url}/v1/nothing", json={}).status_code == 404
        bad = http.post(f"{emu.base_url}/chat/completions", content=b"{not json")
        assert bad.status_code == 400
        assert "error" in bad.json()
    assert len(emu.requests) == 2


def test_requests_are_recorded(emu: Emulator) -> None:
    post(emu, CHAT, params={"api-version": "2024"}, headers={"X-Custom": "yes"})
    (request,) = emu.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.query == {"api-version": "2024"}
    assert request.headers["x-custom"] == "yes"
    assert request.json == CHAT
    assert orjson.loads(request.body) == CHAT


def test_chunked_request_body(emu: Emulator) -> None:
    payload = orjson.dumps(CHAT)
    with httpx.Client(timeout=5) as http:
        response = http.post(
            f"{emu.base_url}/chat/completions", content=iter([payload[:10], payload[10:]])
        )
    assert response.status_code == 200
    assert emu.requests[0].json == CHAT


def test_keep_alive_reuses_one_connection(emu: Emulator) -> None:
    with httpx.Client(timeout=5) as http:
        for body in (STREAM, CHAT, STREAM):
            assert http.post(f"{emu.base_url}/chat/completions", json=body).status_code == 200
        assert emu.connections_served == 1
        assert emu.open_connections == 1
    assert emu.wait_closed(timeout=5)
    assert emu.open_connections == 0


def test_large_unpaced_stream(emu: Emulator) -> None:
    emu.enqueue(Script.of_text(" ".join(["tok"] * 10_000)))
    assert len(events(post(emu, STREAM).content)) == 10_002  # role + pieces + finish


# -- pacing ------------------------------------------------------------------------------


def test_ttft_delays_the_first_byte(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b", ttft=0.3))
    with (
        httpx.Client(timeout=5) as http,
        http.stream("POST", f"{emu.base_url}/chat/completions", json=STREAM) as response,
    ):
        started = time.perf_counter()  # the headers are in
        next(response.iter_raw())
    assert time.perf_counter() - started >= 0.25


def test_tokens_per_second_spaces_the_events(emu: Emulator) -> None:
    emu.enqueue(Script.of_text("a b c d e f g h", tokens_per_second=100))
    started = time.perf_counter()
    body = post(emu, STREAM).content
    frames = body.count(b"\n\n")
    assert time.perf_counter() - started >= 0.9 * (frames - 1) / 100


# -- ways to run it ----------------------------------------------------------------------


def test_async_context_manager() -> None:
    async def main() -> str:
        async with Emulator() as emu, httpx.AsyncClient(timeout=5) as http:
            emu.enqueue(Script.of_text("async hello"))
            response = await http.post(f"{emu.base_url}/chat/completions", json=CHAT)
            return str(response.json()["choices"][0]["message"]["content"])

    assert asyncio.run(main()) == "async hello"


def _src_env() -> dict[str, str]:
    """The environment for a child Python that imports this same rill."""
    src = str(Path(rill.testing.__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else "")}


def test_command_line_server() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "rill.testing", "--chunks", "100"],
        stdout=subprocess.PIPE,
        env=_src_env(),
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("rill emulator listening on http://127.0.0.1:")
        base_url = line.split()[-1]
        with httpx.Client(timeout=5) as http:
            body = http.post(f"{base_url}/chat/completions", json=STREAM).content
        assert len(events(body)) == 102
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


def test_pytest_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_uses_fixture.py").write_text(
        "import httpx\n"
        "from rill.testing import Emulator, Script\n"
        "def test_it(rill_emulator):\n"
        "    assert isinstance(rill_emulator, Emulator)\n"
        "    rill_emulator.enqueue(Script.of_text('fixture works'))\n"
        "    body = {'model': 'm', 'messages': [{'role': 'user', 'content': 'Hi'}]}\n"
        "    r = httpx.post(rill_emulator.base_url + '/chat/completions', json=body)\n"
        "    assert r.json()['choices'][0]['message']['content'] == 'fixture works'\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    # Load the plugin by module name whether or not the entry point is installed.
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", str(tmp_path)),
            *("-p", "no:cacheprovider", "-p", "no:rill", "-p", "rill.testing._pytest_plugin"),
        ],
        cwd=tmp_path,
        env=_src_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
