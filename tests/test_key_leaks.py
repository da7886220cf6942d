"""A key-leak sweep: every error path with a recognisable fake key, DEBUG
logging on for rill, httpx and httpcore, and the CLI. The key never appears
in anything rill produces, nor in the transports' own log lines; and it is
never sent to another origin."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest

import rill
from rill.testing import Emulator, Fault, Script

SECRET = "sk-fake-key-that-must-never-leak-4b1d"

# (model, the header that carries the key) for every kind of auth header.
PROVIDERS = [
    ("openai/gpt-4o-mini", "authorization"),
    ("anthropic/claude-3-haiku-20240307", "x-api-key"),
    ("gemini/gemini-2.0-flash", "x-goog-api-key"),
    ("azure/my-deployment", "api-key"),
]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in ("rill", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def base_url(emu: Emulator, model: str) -> str:
    if model.startswith("azure/"):
        return f"{emu.url}/openai/v1"
    if model.startswith("gemini/"):
        return f"{emu.url}/v1beta"
    if model.startswith("anthropic/"):
        return emu.url
    return emu.base_url


def call(emu: Emulator, model: str = "openai/gpt-4o-mini", **extra: Any) -> rill.RillError:
    with pytest.raises(rill.RillError) as info:
        rill.generate(
            "Hi",
            model=model,
            base_url=base_url(emu, model),
            api_key=SECRET,
            max_retries=0,
            **extra,
        )
    return info.value


def assert_clean(error: BaseException, logs: pytest.LogCaptureFixture) -> None:
    seen = [str(error), repr(error), repr(vars(error))]
    seen += [record.getMessage() for record in logs.records]
    for text in seen:
        assert SECRET not in text
        assert SECRET[10:30] not in text


def test_an_echoed_key_in_an_error_body_is_redacted(
    rill_emulator: Emulator, logs: pytest.LogCaptureFixture
) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {SECRET}.", "key": SECRET}}
    rill_emulator.enqueue(Script.of_status(401, error_body=body, headers={"x-echo": SECRET}))
    error = call(rill_emulator)
    assert isinstance(error, rill.AuthenticationError)
    assert "Incorrect API key provided: [REDACTED]" in str(error)
    assert error.body == {
        "error": {"message": "Incorrect API key provided: [REDACTED].", "key": "[REDACTED]"}
    }
    assert error.headers["x-echo"] == "[REDACTED]"
    assert_clean(error, logs)


def test_an_echoed_key_in_a_text_body_is_redacted(
    rill_emulator: Emulator, logs: pytest.LogCaptureFixture
) -> None:
    page = f"<html><body>proxy refused Authorization: Bearer {SECRET}</body></html>"
    rill_emulator.enqueue(Script.of_status(502, error_body=page.encode()))
    error = call(rill_emulator)
    assert isinstance(error, rill.ServerError)
    assert "[REDACTED]" in error.body
    assert_clean(error, logs)


def test_an_echoed_key_in_a_stream_error_is_redacted(
    rill_emulator: Emulator, logs: pytest.LogCaptureFixture
) -> None:
    fault = Fault.error_event_after(2, error={"message": f"key {SECRET} revoked", "code": SECRET})
    rill_emulator.enqueue(Script.of_text("one two three", faults=(fault,)))
    error = call(rill_emulator)
    assert isinstance(error, rill.ProviderStreamError)
    assert error.error == {"message": "key [REDACTED] revoked", "code": "[REDACTED]"}
    assert error.code == "[REDACTED]"
    assert error.partial is not None
    assert_clean(error, logs)


@pytest.mark.parametrize(("model", "header"), PROVIDERS)
def test_every_auth_header_is_redacted(
    rill_emulator: Emulator, logs: pytest.LogCaptureFixture, model: str, header: str
) -> None:
    rill_emulator.enqueue(Script.of_status(403, error_body={"error": {"message": f"no: {SECRET}"}}))
    error = call(rill_emulator, model=model)
    assert isinstance(error, rill.AuthenticationError)
    sent = rill_emulator.requests[-1].headers[header]
    assert SECRET in sent  # the key went where it belongs...
    assert_clean(error, logs)  # ...and nowhere else


@pytest.mark.parametrize(("model", "header"), PROVIDERS)
def test_no_credential_crosses_a_redirect(
    rill_emulator: Emulator, logs: pytest.LogCaptureFixture, model: str, header: str
) -> None:
    with Emulator() as elsewhere:
        rill_emulator.enqueue(
            Script.of_status(307, headers={"location": f"{elsewhere.url}/steal"}),
        )
        with httpx.Client(follow_redirects=True) as http:
            error = call(rill_emulator, model=model, http_client=http)
        assert isinstance(error, rill.RedirectError)
        assert elsewhere.requests == []
        assert_clean(error, logs)


def test_a_timeout_and_a_cut_stream_do_not_leak(
    rill_emulator: Emulator, logs: pytest.LogCaptureFixture
) -> None:
    rill_emulator.enqueue(Script.of_text("one two three", ttft=3))
    error = call(rill_emulator, timeout=rill.Timeouts(first_token=0.3))
    assert isinstance(error, rill.TimeoutError)
    assert_clean(error, logs)
    rill_emulator.enqueue(Script.of_text("one two three", faults=(Fault.close_after(200),)))
    error = call(rill_emulator)
    assert isinstance(error, rill.IncompleteStreamError)
    assert_clean(error, logs)


def test_the_cli_never_prints_the_key(rill_emulator: Emulator) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}
    rill_emulator.enqueue(Script.of_status(401, error_body=body))
    env = {"OPENAI_API_KEY": SECRET, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rill",
            "chat",
            "Hi",
            "-m",
            "openai/gpt-4o-mini",
            "--base-url",
            rill_emulator.base_url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "AuthenticationError" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
