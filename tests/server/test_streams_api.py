"""``/v1/streams`` over real HTTP: uvicorn on loopback in front of the
emulator, with each store."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from rill.server._app import RillServer
from rill.server._config import ServerConfig
from rill.structured import apply_patches
from rill.testing import Emulator, Script

from .conftest import UPSTREAM_KEY
from .serving import SSE, ServerThread, events_of, headers, iter_sse

TEXT = "Streaming shows each token the moment the model produces it, so reading starts early."


def _config(**kw: object) -> ServerConfig:
    base: dict[str, object] = {"api_keys": frozenset({"k1", "k2"}), "lease_ttl": 2.0}
    base.update(kw)
    return ServerConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def serve(upstream: Emulator) -> Iterator[object]:
    started: list[ServerThread] = []

    def start(config: ServerConfig | None = None, store: str = "memory") -> str:
        thread = ServerThread(RillServer(config or _config(), store)).__enter__()
        started.append(thread)
        return thread.url

    yield start
    for thread in started:
        thread.__exit__()


def _start(url: str, body: dict[str, object], key: str = "k1") -> dict[str, str]:
    r = httpx.post(url + "/v1/streams", json=body, headers=headers(key))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _read(url: str, stream_id: str, key: str = "k1", last: str | None = None) -> list[SSE]:
    extra = {"last-event-id": last} if last is not None else {}
    with httpx.stream(
        "GET", f"{url}/v1/streams/{stream_id}", headers=headers(key, **extra), timeout=20
    ) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(iter_sse(r))


def _text(blocks: list[SSE]) -> str:
    return "".join(b.json["text"] for b in blocks if b.event == "chunk")


def test_a_stream_is_numbered_events_ending_in_one_done(
    serve: object, upstream: Emulator, served_store_url: str
) -> None:
    upstream.enqueue(Script.of_text(TEXT, tokens_per_second=200))
    url = serve(store=served_store_url)  # type: ignore[operator]
    created = _start(url, {"prompt": "hi", "model": "openai/gpt-4o-mini"})
    assert created["url"] == f"/v1/streams/{created['id']}"
    assert len(created["id"]) >= 24
    blocks = _read(url, created["id"])
    epoch = created["epoch"]
    first = blocks[0]
    assert (first.retry, first.id, first.event, first.data) == (2000, f"{epoch}:0", None, None)
    events = events_of(blocks)
    assert [e.id for e in events] == [f"{epoch}:{i}" for i in range(1, len(events) + 1)]
    kinds = [e.event for e in events]
    assert kinds[-2:] == ["usage", "done"]
    assert set(kinds[:-2]) == {"chunk"}
    assert _text(events) == TEXT
    assert events[-2].json["completion_tokens"] > 0
    assert events[-1].json["finish_reason"] == "stop"
    # The request went upstream with the server's key and the client's prompt.
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.params["messages"][-1]["content"] == "hi"
    assert UPSTREAM_KEY not in b"".join(b.raw for b in blocks).decode()


def test_last_event_id_resumes_exactly_after_it(serve: object, upstream: Emulator) -> None:
    upstream.enqueue(Script.of_text(TEXT))
    url = serve()  # type: ignore[operator]
    created = _start(url, {"prompt": "hi"})
    whole = events_of(_read(url, created["id"]))
    for cut in (0, 1, len(whole) // 2, len(whole) - 1):
        rest = _read(url, created["id"], last=f"{created['epoch']}:{cut}")
        assert rest[0].id == f"{created['epoch']}:{cut}"  # id-only preamble at the position
        assert b"".join(e.raw for e in events_of(rest)) == b"".join(e.raw for e in whole[cut:])


def test_last_event_id_errors(serve: object, upstream: Emulator) -> None:
    upstream.enqueue(Script.of_text(TEXT))
    url = serve()  # type: ignore[operator]
    created = _start(url, {"prompt": "hi"})
    sid, epoch = created["id"], created["epoch"]
    n = len(events_of(_read(url, sid)))
    target = f"{url}/v1/streams/{sid}"

    def status(last: str) -> int:
        return httpx.get(target, headers=headers(**{"last-event-id": last})).status_code

    assert status("garbage") == 400
    assert status(f"{epoch}:-1") == 400
    assert status(f"{epoch}:01") == 400
    other = "0" * 8 if epoch != "0" * 8 else "1" * 8
    assert status(f"{other}:1") == 409  # another stream's epoch
    assert status(f"{epoch}:{n + 1}") == 409  # past the end
    assert status(f"{epoch}:{n}") == 204  # read to its end: EventSource stops
    # Clients that cannot set headers pass the id in the query.
    assert (
        httpx.get(target, params={"last_event_id": f"{epoch}:{n}"}, headers=headers()).status_code
        == 204
    )
    assert httpx.get(target, params={"last_event_id": "x"}, headers=headers()).status_code == 400


def test_generation_runs_without_a_reader(serve: object, upstream: Emulator) -> None:
    upstream.enqueue(Script.of_text(TEXT, tokens_per_second=100))
    url = serve()  # type: ignore[operator]
    created = _start(url, {"prompt": "hi"})
    assert upstream.wait_answered(10)  # the whole upstream response was sent, with no reader
    time.sleep(1.0)
    # Already over before anyone read it: a cancel finds nothing to cancel.
    cancel = httpx.post(f"{url}/v1/streams/{created['id']}/cancel", headers=headers())
    assert cancel.json()["cancelled"] is False
    events = events_of(_read(url, created["id"]))
    assert _text(events) == TEXT
    assert events[-1].event == "done"


def test_structured_output_streams_as_patches(serve: object, upstream: Emulator) -> None:
    value = {"name": "Ada Lovelace", "age": 36, "skills": ["math", "poetry"], "bio": "x" * 50}
    upstream.enqueue(Script.of_text(orjson.dumps(value).decode()))
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "skills": {"type": "array", "items": {"type": "string"}},
            "bio": {"type": "string"},
        },
    }
    url = serve()  # type: ignore[operator]
    created = _start(url, {"prompt": "who?", "schema": schema})
    events = events_of(_read(url, created["id"]))
    patches = [p for e in events if e.event == "patch" for p in e.json]
    assert len([e for e in events if e.event == "patch"]) > 3
    assert apply_patches(None, patches) == value
    assert {"op": "close", "path": "/name"} in patches
    sent = upstream.requests[-1].params["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema


def test_cancel_ends_the_stream_and_closes_the_upstream(serve: object, upstream: Emulator) -> None:
    upstream.enqueue(Script.of_text(TEXT * 20, tokens_per_second=20))
    url = serve()  # type: ignore[operator]
    created = _start(url, {"prompt": "hi"})
    time.sleep(0.3)
    r = httpx.post(f"{url}/v1/streams/{created['id']}/cancel", headers=headers())
    assert r.json() == {"id": created["id"], "cancelled": True}
    again = httpx.post(f"{url}/v1/streams/{created['id']}/cancel", headers=headers())
    assert again.json()["cancelled"] is False
    started = time.monotonic()
    assert upstream.wait_closed(5)  # observed by the upstream: its connection closed
    assert time.monotonic() - started < 4
    events = events_of(_read(url, created["id"]))
    assert [e.event for e in events if e.event != "chunk"] == ["cancelled"]
    assert len(_text(events)) < len(TEXT * 20)


def test_keep_alive_comments_while_quiet(serve: object, upstream: Emulator) -> None:
    upstream.enqueue(Script.of_text("slow answer", ttft=1.2))
    url = serve(_config(keepalive=0.3))  # type: ignore[operator]
    created = _start(url, {"prompt": "hi"})
    blocks = _read(url, created["id"])
    comments = [b for b in blocks if b.comment]
    assert 2 <= len(comments) <= 5
    assert comments[0].raw == b": keep-alive\n\n"
    assert events_of(blocks)[-1].event == "done"


def test_keys_are_required_and_isolate_streams(serve: object, upstream: Emulator) -> None:
    url = serve()  # type: ignore[operator]
    assert httpx.post(url + "/v1/streams", json={"prompt": "hi"}).status_code == 401
    bad = httpx.post(url + "/v1/streams", json={"prompt": "hi"}, headers=headers("nope"))
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"
    created = _start(url, {"prompt": "hi"}, key="k1")
    target = f"{url}/v1/streams/{created['id']}"
    assert httpx.get(target).status_code == 401
    assert httpx.get(target, headers=headers("k2")).status_code == 404  # as if missing
    assert httpx.post(target + "/cancel", headers=headers("k2")).status_code == 404
    assert httpx.get(f"{url}/v1/streams/{'A' * 24}", headers=headers()).status_code == 404
    assert httpx.get(f"{url}/v1/streams/x", headers=headers()).status_code == 404


def test_clients_cannot_choose_the_upstream(serve: object, upstream: Emulator) -> None:
    url = serve()  # type: ignore[operator]
    for field in ("base_url", "api_key"):
        r = httpx.post(
            url + "/v1/streams", json={"prompt": "hi", field: "http://evil"}, headers=headers()
        )
        assert r.status_code == 400
        assert "chosen by the server" in r.json()["error"]["message"]
    assert upstream.requests == []


def test_bounds(serve: object, upstream: Emulator) -> None:
    url = serve(_config(max_body_bytes=2000, max_streams_per_key=2, max_events=5))  # type: ignore[operator]
    big = httpx.post(url + "/v1/streams", json={"prompt": "x" * 3000}, headers=headers())
    assert big.status_code == 413
    upstream.enqueue(*[Script.of_text(TEXT, tokens_per_second=10)] * 2)
    first = _start(url, {"prompt": "a"})
    _start(url, {"prompt": "b"})
    third = httpx.post(url + "/v1/streams", json={"prompt": "c"}, headers=headers())
    assert third.status_code == 429
    assert _start(url, {"prompt": "other key"}, key="k2")  # another key has its own bound
    events = events_of(_read(url, first["id"]))
    assert len(events) == 5
    assert events[-1].event == "error"
    assert events[-1].json["code"] == "stream_too_long"


def test_an_upstream_failure_ends_the_stream_with_error(serve: object, upstream: Emulator) -> None:
    upstream.enqueue(Script.of_status(400))
    url = serve()  # type: ignore[operator]
    created = _start(url, {"prompt": "hi"})
    events = events_of(_read(url, created["id"]))
    assert [e.event for e in events] == ["error"]
    assert events[0].json["code"] == "upstream_error"
    assert events[0].json["type"] == "BadRequestError"


def test_pipelines_and_named_schemas(serve: object, upstream: Emulator) -> None:
    from rill.server._config import Pipeline

    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    config = _config(
        schemas={"Card": schema},
        pipelines={"title": Pipeline("Title for: {topic}", system="Be brief.", schema=schema)},
    )
    upstream.enqueue(Script.of_text('{"title": "Goldfish"}'))
    url = serve(config)  # type: ignore[operator]
    created = _start(url, {"pipeline": "title", "input": {"topic": "goldfish"}})
    events = events_of(_read(url, created["id"]))
    patches = [p for e in events if e.event == "patch" for p in e.json]
    assert apply_patches(None, patches) == {"title": "Goldfish"}
    messages = upstream.requests[-1].params["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[-1]["content"] == "Title for: goldfish"
    bad = httpx.post(url + "/v1/streams", json={"pipeline": "nope"}, headers=headers())
    assert bad.status_code == 400
    schemas = httpx.get(url + "/v1/schemas", headers=headers()).json()
    assert schemas["schemas"] == {"Card": schema}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 400, "give a prompt"),
        ({"prompt": "hi", "temperature": "hot"}, 400, "temperature"),
        ({"prompt": "hi", "schema": [1]}, 400, "JSON Schema object"),
        ({"prompt": "hi", "system": 3}, 400, "system must be a string"),
        ({"prompt": "hi", "model": 3}, 400, "model must be a string"),
        ({"prompt": "hi", "model": "anthropic/claude-3-5-haiku-latest"}, 400, "not served"),
        ({"prompt": "hi", "model": "nosuch/model"}, 400, "nosuch"),
        ({"prompt": "hi", "schema_name": "Nope"}, 400, "unknown schema"),
        ({"pipeline": "t", "input": [1]}, 400, "input must be an object"),
        ({"pipeline": "t", "input": {"other": 1}}, 400, "does not fill"),
        ({"prompt": "hi", "colour": "red"}, 400, "unknown fields"),
        ({"messages": [{"role": "user", "content": "hi"}]}, 201, ""),
    ],
)
def test_request_bodies_are_checked_before_anything_starts(
    serve: object, upstream: Emulator, body: dict[str, object], status: int, words: str
) -> None:
    from rill.server._config import Pipeline

    config = _config(
        models=frozenset({"openai/gpt-4o-mini", "nosuch/model"}),
        pipelines={"t": Pipeline("About {topic}")},
    )
    url = serve(config)  # type: ignore[operator]
    r = httpx.post(url + "/v1/streams", json=body, headers=headers())
    assert r.status_code == status, r.text
    if words:
        assert words in r.json()["error"]["message"]
        assert upstream.requests == []


def test_malformed_bodies(serve: object, upstream: Emulator) -> None:
    url = serve()  # type: ignore[operator]
    for content in (b"{not json", b"[1, 2]"):
        r = httpx.post(url + "/v1/streams", content=content, headers=headers())
        assert r.status_code == 400
    chat = httpx.post(url + "/v1/chat/completions", json={"model": 1}, headers=headers())
    assert chat.status_code == 400


def test_a_provider_without_a_server_key_is_503(
    serve: object, upstream: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    # A server on loopback may go without a key; a remote one may not.
    monkeypatch.setenv("OPENAI_BASE_URL", "https://openai.invalid/v1")
    url = serve()  # type: ignore[operator]
    r = httpx.post(url + "/v1/streams", json={"prompt": "hi"}, headers=headers())
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "provider_not_configured"
    assert r.json()["error"]["message"] == "the server has no key for this provider"
    assert upstream.requests == []
