"""``rill serve`` from the command line, and the server mounted in another app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from rill.server import RillServer, ServerConfig, load_config
from rill.testing import Emulator, Script

from .serving import ServerProcess, ServerThread, events_of, iter_sse


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rill", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_serve_refuses_to_run_open_off_loopback() -> None:
    result = _serve("--no-auth", "--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_serve_needs_a_key_unless_auth_is_disabled() -> None:
    result = _serve("--port", "1")
    assert result.returncode == 2
    assert "RILL_SERVER_API_KEYS" in result.stderr


def test_serve_rejects_an_unknown_store_and_setting(tmp_path: Path) -> None:
    assert "unknown store" in _serve("--no-auth", "--store", "mongodb://x").stderr
    config = tmp_path / "c.toml"
    config.write_text("api_key = 'typo'\n")
    assert "unknown settings" in _serve("--config", str(config)).stderr


def test_serve_no_auth_on_loopback_serves(upstream: Emulator, tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": "x"}
    upstream.enqueue(Script.of_text("served by rill serve"))
    db = tmp_path / "s.db"
    with ServerProcess(["--no-auth", "--store", f"sqlite:{db}"], env) as server:
        created = httpx.post(server.url + "/v1/streams", json={"prompt": "hi"}).json()
        with httpx.stream("GET", server.url + created["url"], timeout=10) as r:
            events = events_of(list(iter_sse(r)))
        assert "".join(e.json["text"] for e in events if e.event == "chunk") == (
            "served by rill serve"
        )
        page = httpx.get(server.url + "/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "access-control-allow-origin" not in page.headers  # CORS is off by default
    assert db.exists()


def test_config_file_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rill.toml"
    path.write_text(
        'api_keys = ["a"]\nmodels = ["openai/gpt-4o-mini"]\nmax_events = 7\n'
        'cors_origins = ["https://app.example"]\n'
        '[schemas.Card]\ntype = "object"\n'
        '[pipelines.t]\ntemplate = "T: {x}"\nschema = "Card"\n'
    )
    monkeypatch.setenv("RILL_SERVER_API_KEYS", "b, c")
    config = load_config(path)
    assert config.api_keys == {"a", "b", "c"}
    assert config.max_events == 7
    assert config.pipelines["t"].schema == {"type": "object"}
    assert config.tenant("Bearer b") is not None and config.tenant("Bearer z") is None
    assert config.tenant("Basic b") is None and config.tenant(None) is None
    path.write_text('[pipelines.t]\ntemplate = "T"\nschema = "Nope"\n')
    with pytest.raises(ValueError, match="unknown schema"):
        load_config(path)


def test_cors_only_for_configured_origins(upstream: Emulator) -> None:
    config = ServerConfig(api_keys=frozenset({"k"}), cors_origins=("https://app.example",))
    with ServerThread(RillServer(config)) as server:
        preflight = {
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization",
        }
        ok = httpx.options(server.url + "/v1/streams", headers=preflight)
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        other = httpx.options(
            server.url + "/v1/streams", headers={**preflight, "origin": "https://evil"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_mounted_in_another_app(upstream: Emulator) -> None:
    upstream.enqueue(Script.of_text("mounted"))
    server = RillServer(ServerConfig(api_keys=frozenset({"k"})))
    app = Starlette(routes=[Mount("/llm", app=server)], lifespan=server.lifespan)
    auth = {"authorization": "Bearer k"}
    with ServerThread(app) as thread:
        created = httpx.post(thread.url + "/llm/v1/streams", json={"prompt": "hi"}, headers=auth)
        url = created.json()["url"]
        assert url.startswith("/llm/v1/streams/")
        with httpx.stream("GET", thread.url + url, headers=auth, timeout=10) as r:
            events = events_of(list(iter_sse(r)))
    assert [e.json["text"] for e in events if e.event == "chunk"] == ["mounted"]


def test_main_returns_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rill.cli import main

    monkeypatch.delenv("RILL_SERVER_API_KEYS", raising=False)
    assert main(["serve", "--no-auth", "--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert main(["serve"]) == 2
    assert "RILL_SERVER_API_KEYS" in capsys.readouterr().err
    assert main(["serve", "--no-auth", "--store", "sqlite:"]) == 2
    assert "needs a path" in capsys.readouterr().err
    assert main(["serve", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
