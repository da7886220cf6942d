"""Every failure is a typed rill error; mid-stream failures carry the partial
response; nothing hangs; no API key leaks into a message, repr or log."""

from __future__ import annotations

import logging
import socket
from typing import Any, Literal

import pytest

import rill
from rill.testing import Emulator, Fault, Script

TEXT = "one two three four five six seven eight nine ten"
SECRET = "sk-this-must-never-leak-1234567890"


def opts(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o-mini",
        "base_url": emu.base_url,
        "api_key": SECRET,
        "max_retries": 0,
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, rill.BadRequestError),
        (401, rill.AuthenticationError),
        (404, rill.NotFoundError),
        (429, rill.RateLimitError),
        (500, rill.ServerError),
        (503, rill.ServerError),
    ],
)
def test_http_status_errors(rill_emulator: Emulator, status: int, error: type) -> None:
    rill_emulator.enqueue(
        Script.of_status(
            status,
            headers={"Retry-After": "7", "X-Request-Id": "req-1"},
            error_body={"error": {"message": "nope", "type": "t", "code": "c"}},
        )
    )
    with pytest.raises(error) as info:
        list(rill.generate_stream("Hi", **opts(rill_emulator)))
    exc = info.value
    assert isinstance(exc, rill.APIStatusError)
    assert exc.status_code == status
    assert exc.body == {"error": {"message": "nope", "type": "t", "code": "c"}}
    assert exc.headers["retry-after"] == "7" and exc.headers["x-request-id"] == "req-1"
    assert exc.retry_after == 7.0
    assert "nope" in str(exc)


def test_retries_before_the_first_token_honour_retry_after(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(
        Script.of_status(429, headers={"retry-after-ms": "10"}),
        Script.of_status(503, headers={"retry-after": "0"}),
        Script.of_text(TEXT),
    )
    response = rill.generate("Hi", **opts(rill_emulator, max_retries=2))
    assert response.content == TEXT
    assert len(rill_emulator.requests) == 3


def test_client_errors_are_not_retried(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_status(400), Script.of_text(TEXT))
    with pytest.raises(rill.BadRequestError):
        rill.generate("Hi", **opts(rill_emulator, max_retries=3))
    assert len(rill_emulator.requests) == 1


def test_no_retry_once_output_was_delivered(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(
        Script.of_text(TEXT, faults=(Fault.close_after(700),)), Script.of_text(TEXT)
    )
    with pytest.raises(rill.IncompleteStreamError) as info:
        rill.generate("Hi", **opts(rill_emulator, max_retries=3))
    assert len(rill_emulator.requests) == 1
    partial = info.value.partial
    assert partial is not None and partial.content and TEXT.startswith(partial.content)


@pytest.mark.parametrize("style", ["event", "chunk"])
def test_error_inside_the_stream(rill_emulator: Emulator, style: Literal["event", "chunk"]) -> None:
    error = {"message": "Token limit reached", "type": "server_error", "code": 400}
    rill_emulator.enqueue(
        Script.of_text(TEXT, faults=(Fault.error_event_after(4, error=error, style=style),))
    )
    received = []
    with pytest.raises(rill.ProviderStreamError, match="Token limit reached") as info:
        for chunk in rill.generate_stream("Hi", **opts(rill_emulator)):
            received.append(chunk.content)
    exc = info.value
    assert exc.error == error and exc.code == 400 and exc.type == "server_error"
    assert exc.partial is not None and exc.partial.content == "".join(received)
    assert exc.partial.content  # something arrived before the error


def test_json_error_body_under_event_stream_content_type(rill_emulator: Emulator) -> None:
    body = b'{\n  "error": {\n    "code": 404,\n    "message": "model not found"\n  }\n}\n'
    rill_emulator.enqueue(Script.of_body(body, content_type="text/event-stream"))
    with pytest.raises(rill.ProviderStreamError, match="model not found") as info:
        rill.generate("Hi", **opts(rill_emulator))
    assert info.value.code == 404


def test_connection_closed_mid_stream(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, faults=(Fault.close_after(700),)))
    received = []
    with pytest.raises(rill.IncompleteStreamError) as info:
        for chunk in rill.generate_stream("Hi", **opts(rill_emulator)):
            received.append(chunk.content)
    partial = info.value.partial
    assert partial is not None and partial.content == "".join(received)
    assert partial.finish_reason is None


def test_body_that_ends_cleanly_without_finishing(rill_emulator: Emulator) -> None:
    body = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"half"}}]}\n\n'
    rill_emulator.enqueue(Script.of_body(body))
    with pytest.raises(rill.IncompleteStreamError) as info:
        rill.generate("Hi", **opts(rill_emulator))
    assert info.value.partial is not None and info.value.partial.content == "half"


def test_done_is_optional(rill_emulator: Emulator) -> None:
    body = (
        b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"all"}}]}\n\n'
        b'data: {"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    )
    rill_emulator.enqueue(Script.of_body(body))
    assert rill.generate("Hi", **opts(rill_emulator)).content == "all"


@pytest.mark.parametrize(
    "garbage",
    [b"data: {this is not json\n\n", b"data: \xff\xfe\n\n", b"data: [1, 2]\n\n"],
)
def test_garbage_is_a_protocol_error(rill_emulator: Emulator, garbage: bytes) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, faults=(Fault.garbage_after(3, data=garbage),)))
    with pytest.raises(rill.ProtocolError) as info:
        rill.generate("Hi", **opts(rill_emulator))
    assert info.value.partial is not None


def test_stall_hits_the_idle_timeout(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, faults=(Fault.stall_after(600, 5.0),)))
    timeouts = rill.Timeouts(connect=2, first_token=2, idle=0.3)
    with pytest.raises(rill.TimeoutError) as info:
        rill.generate("Hi", **opts(rill_emulator, timeout=timeouts))
    assert info.value.phase == "idle"
    assert info.value.partial is not None and info.value.partial.content


def test_slow_first_token_hits_the_first_token_timeout(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, ttft=5.0))
    timeouts = rill.Timeouts(connect=2, first_token=0.3, idle=10)
    with pytest.raises(rill.TimeoutError) as info:
        rill.generate("Hi", **opts(rill_emulator, timeout=timeouts))
    assert info.value.phase == "first_token"


def test_total_timeout(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT * 5, tokens_per_second=50))
    with pytest.raises(rill.TimeoutError) as info:
        rill.generate("Hi", **opts(rill_emulator, timeout=rill.Timeouts(total=0.2)))
    assert info.value.phase == "total"


def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(rill.ConnectError):
        rill.generate("Hi", model="vllm/m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)


async def test_async_errors_are_the_same_types(rill_emulator: Emulator) -> None:
    rill_emulator.enqueue(Script.of_text(TEXT, faults=(Fault.close_after(700),)))
    with pytest.raises(rill.IncompleteStreamError) as info:
        await rill.agenerate("Hi", **opts(rill_emulator))
    assert info.value.partial is not None and info.value.partial.content
    rill_emulator.enqueue(Script.of_status(429))
    with pytest.raises(rill.RateLimitError):
        await rill.agenerate("Hi", **opts(rill_emulator))


def test_api_key_never_appears_in_errors_reprs_or_logs(
    rill_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rill_emulator.enqueue(
        Script.of_status(401), Script.of_text(TEXT, faults=(Fault.close_after(500),))
    )
    texts: list[str] = []
    for _ in range(2):
        stream = rill.generate_stream("Hi", **opts(rill_emulator))
        texts.append(repr(stream))
        with pytest.raises(rill.RillError) as info:
            list(stream)
        texts += [str(info.value), repr(info.value), repr(info.value.__dict__)]
        texts.append(repr(getattr(info.value, "partial", None)))
    from rill._request import prepare_request

    texts.append(repr(prepare_request("Hi", opts(rill_emulator))))
    texts.append(caplog.text)
    assert rill_emulator.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    for text in texts:
        assert SECRET not in text


def test_a_whole_body_error_names_the_provider_of_the_call() -> None:
    """decode_response is given the call, so an error object in a whole
    (non-streamed) body is reported under the provider that sent it."""
    from rill.providers import Call, get_provider

    call = Call(model="m", messages=(), provider="groq")
    codec = get_provider("groq").codec
    with pytest.raises(rill.ProviderStreamError, match=r"^groq .*model overloaded"):
        codec.decode_response(call, b'{"error": {"message": "model overloaded"}}')
    with pytest.raises(rill.ProtocolError, match=r"^groq"):
        codec.decode_response(call, b'{"choices": "abc"}')
