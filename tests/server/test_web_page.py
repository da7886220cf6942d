"""The web page at ``/`` in a real browser: Debian's chromium, headless,
driven by Playwright (never a downloaded browser). Screenshots are kept in
``test-artifacts/browser/`` (ignored by git)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from rill.server import RillServer, ServerConfig
from rill.testing import Emulator, Script

from .serving import ServerThread, events_of, iter_sse
from .tcp_proxy import CuttableProxy

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "city": {"type": "string"},
        "bio": {"type": "string", "maxLength": 200},
    },
}
PERSON = {
    "name": "Ada Lovelace",
    "title": "Analyst of the Analytical Engine",
    "city": "London",
    "bio": "She wrote the first published program and saw that the engine could do more "
    "than arithmetic.",
}
FIELDS = list(SCHEMA["properties"])
TEXT = " ".join(f"token{i}" for i in range(80))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (scripts/ci-services installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_url(upstream: Emulator) -> Iterator[tuple[str, CuttableProxy]]:
    config = ServerConfig(auth=False, schemas={"Person": SCHEMA}, retry_ms=300)
    with ServerThread(RillServer(config)) as server, CuttableProxy(server.port) as proxy:
        yield proxy.url, proxy


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


_RANK = {"done": 2, "streaming": 1, "pending": 0}


def _states(page: Any) -> list[str]:
    return [str(page.get_attribute(f'[data-field="{f}"]', "data-state")) for f in FIELDS]


def test_the_card_fills_in_field_by_field(
    browser: Any, page_url: tuple[str, CuttableProxy], upstream: Emulator, artifacts: Path
) -> None:
    url, _ = page_url
    upstream.enqueue(Script.of_text(orjson.dumps(PERSON).decode(), tokens_per_second=12))
    page = browser.new_page(viewport={"width": 900, "height": 800})
    try:
        page.goto(url + "/")
        page.wait_for_selector('#schema option[value="Person"]', state="attached")
        page.select_option("#schema", "Person")
        page.click("#start")
        for i, field in enumerate(FIELDS):
            page.wait_for_selector(f'[data-field="{field}"][data-state="done"]', timeout=20000)
            states = _states(page)
            page.screenshot(path=str(artifacts / f"{i + 1}-{field}-done.png"))
            ranks = [_RANK[s] for s in states]
            assert ranks == sorted(ranks, reverse=True), states  # fields arrive in order
            assert states[: i + 1] == ["done"] * (i + 1)
            if i + 2 < len(FIELDS):
                assert states[i + 2 :] == ["pending"] * (len(FIELDS) - i - 2), states
        page.wait_for_selector('body[data-state="done"]', timeout=20000)
        page.screenshot(path=str(artifacts / "5-final.png"))
        shown = {f: page.text_content(f'[data-field="{f}"] .value') for f in FIELDS}
        assert shown == PERSON
        assert page.get_attribute("#overall", "style") == "width: 100%;"
    finally:
        page.close()
    assert len(list(artifacts.glob("*.png"))) == 5


def test_the_page_resumes_after_the_connection_is_cut(
    browser: Any, page_url: tuple[str, CuttableProxy], upstream: Emulator, artifacts: Path
) -> None:
    url, proxy = page_url
    upstream.enqueue(Script.of_text(TEXT, tokens_per_second=40))
    page = browser.new_page()
    try:
        page.goto(url + "/")
        page.wait_for_selector("#schema", state="attached")
        page.click("#start")
        # Polled from here: the page's CSP forbids the eval wait_for_function needs.
        deadline = time.monotonic() + 10
        while len(page.text_content("#answer") or "") <= 40:
            assert time.monotonic() < deadline, "no text streamed"
            page.wait_for_timeout(20)
        page.screenshot(path=str(artifacts / "1-before-cut.png"))
        before = page.text_content("#answer") or ""
        proxy.cut()
        page.wait_for_selector('body[data-resumes="1"]', timeout=10000)
        assert "Resumed after event" in (page.text_content("#resumed") or "")
        page.screenshot(path=str(artifacts / "2-resumed.png"))
        page.wait_for_selector('body[data-state="done"]', timeout=20000)
        page.screenshot(path=str(artifacts / "3-done.png"))
        final = page.text_content("#answer")
        stream_id = page.get_attribute("body", "data-stream-id")
    finally:
        page.close()
    assert proxy.cuts == 1
    assert len(before) < len(TEXT)  # the cut came mid-stream
    with httpx.stream("GET", f"{url}/v1/streams/{stream_id}", timeout=10) as r:
        uninterrupted = "".join(
            e.json["text"] for e in events_of(list(iter_sse(r))) if e.event == "chunk"
        )
    assert final == uninterrupted == TEXT


def test_the_page_asks_for_the_key_when_the_server_needs_one(
    browser: Any, upstream: Emulator
) -> None:
    upstream.enqueue(Script.of_text("with a key"))
    config = ServerConfig(api_keys=frozenset({"page-key"}), schemas={"Person": SCHEMA})
    with ServerThread(RillServer(config)) as server:
        page = browser.new_page()
        try:
            page.goto(server.url + "/")
            page.wait_for_selector("#key-row", state="visible")
            assert page.locator('#schema option[value="Person"]').count() == 0
            page.fill("#key", "page-key")
            page.dispatch_event("#key", "change")
            page.wait_for_selector('#schema option[value="Person"]', state="attached")
            page.click("#start")
            page.wait_for_selector('body[data-state="done"]', timeout=10000)
            assert page.text_content("#answer") == "with a key"
        finally:
            page.close()
