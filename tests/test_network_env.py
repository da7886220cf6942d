"""CA bundles and proxies from the environment work the same on every
transport: httpx (sync, and async on trio) and aiohttp (async on asyncio).

Each scenario runs in a child process, because transports read
``SSL_CERT_FILE`` / ``HTTPS_PROXY`` when their pooled client is first made.
The origin is the emulator speaking HTTPS with a certificate from a test CA
(trustme); the proxy is a CONNECT tunnel on loopback that records targets.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from rill.testing import Emulator

from .proxy import TunnelProxy

CHILD = """
import asyncio, json, sys
import trio
import rill

base = sys.argv[1]
timeouts = rill.Timeouts(connect=5, first_token=10)
kw = dict(model="vllm/m", base_url=base, max_retries=0, timeout=timeouts)

async def call():
    return (await rill.agenerate("Hi", **kw)).content

def attempt(run):
    try:
        return run()
    except rill.RillError as exc:
        return type(exc).__name__

print(json.dumps({
    "httpx-sync": attempt(lambda: rill.generate("Hi", **kw).content),
    "aiohttp": attempt(lambda: asyncio.run(call())),
    "httpx-trio": attempt(lambda: trio.run(call)),
}))
"""

TRANSPORTS = ("httpx-sync", "aiohttp", "httpx-trio")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_emulator(ca: trustme.CA) -> Iterator[Emulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with Emulator(ssl_context=context) as emu:
        yield emu


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def run_child(base_url: str, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    clean.pop("SSL_CERT_FILE", None)
    clean.pop("SSL_CERT_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, base_url],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
        check=True,
    )
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_ca_bundle_from_ssl_cert_file_is_trusted(tls_emulator: Emulator, ca_file: str) -> None:
    answered = run_child(tls_emulator.base_url, SSL_CERT_FILE=ca_file)
    assert all(answered[t] and not answered[t].endswith("Error") for t in TRANSPORTS), answered
    # Without it, the test CA is unknown: every transport refuses the server.
    refused = run_child(tls_emulator.base_url)
    assert refused == dict.fromkeys(TRANSPORTS, "ConnectError")


def test_https_proxy_from_the_environment(tls_emulator: Emulator, ca_file: str) -> None:
    with TunnelProxy() as proxy:
        answered = run_child(tls_emulator.base_url, SSL_CERT_FILE=ca_file, HTTPS_PROXY=proxy.url)
        assert all(not answered[t].endswith("Error") for t in TRANSPORTS), answered
        origin = f"127.0.0.1:{tls_emulator.port}"
        assert proxy.targets == [origin] * len(TRANSPORTS)


def test_proxy_credentials_in_the_url_are_sent_to_the_proxy(
    tls_emulator: Emulator, ca_file: str
) -> None:
    with TunnelProxy() as proxy:
        url = proxy.url.replace("http://", "http://user:s%40cret@")
        answered = run_child(tls_emulator.base_url, SSL_CERT_FILE=ca_file, HTTPS_PROXY=url)
        assert all(not answered[t].endswith("Error") for t in TRANSPORTS), answered
        expected = "Basic " + base64.b64encode(b"user:s@cret").decode()
        assert proxy.credentials == [expected] * len(TRANSPORTS)


def test_no_proxy_bypasses_it(tls_emulator: Emulator, ca_file: str) -> None:
    with TunnelProxy() as proxy:
        answered = run_child(
            tls_emulator.base_url,
            SSL_CERT_FILE=ca_file,
            HTTPS_PROXY=proxy.url,
            NO_PROXY="127.0.0.1",
        )
        assert all(not answered[t].endswith("Error") for t in TRANSPORTS), answered
        assert proxy.targets == []
