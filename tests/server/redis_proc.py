"""A real redis-server for the tests: started on a free loopback port,
stopped by its pid. Skips (with the reason) when redis-server is not
installed, unless CI=true, where it must be."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free too."""
    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def require_redis() -> str:
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (scripts/ci-services installs it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return path


class RedisProcess:
    """One redis-server; ``restart(persist=...)`` keeps the port."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_redis()
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, persist: bool = False, extra: list[str] | None = None) -> RedisProcess:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *(extra or [])]
        args += ["--dir", str(self.workdir), "--protected-mode", "no", "--loglevel", "warning"]
        args += ["--save", "", "--appendonly", "yes" if persist else "no"]
        args += ["--appendfsync", "always"] if persist else []
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, *, persist: bool) -> None:
        self.stop()
        if not persist:
            for f in self.workdir.glob("*"):
                if f.is_file():
                    f.unlink()
                elif f.is_dir():
                    shutil.rmtree(f)
        self.start(persist=persist)


class RedisClusterProcess:
    """A Redis Cluster of three masters (no replicas) on free loopback
    ports: three redis-servers in cluster mode, joined by
    ``redis-cli --cluster create``; stopped by their pids."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_redis()
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.skip("redis-cli is not installed (it comes with redis-server)")
        self.cli = cli
        self.nodes = [RedisProcess(workdir / f"node{i}") for i in range(3)]
        for node in self.nodes:
            node.port = free_cluster_port()

    @property
    def url(self) -> str:
        """A store URL naming one node; the client learns the others."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> RedisClusterProcess:
        try:
            for node in self.nodes:
                node.workdir.mkdir(parents=True, exist_ok=True)
                cluster = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
                node.start(extra=cluster)
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            create = [self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "0"]
            subprocess.run([*create, "--cluster-yes"], check=True, capture_output=True, timeout=30)
        except BaseException:
            self.stop()  # the nodes that did start
            raise
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = [self._info(node.port) for node in self.nodes]
            if all("cluster_state:ok" in state for state in states):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the Redis Cluster did not come up")

    def _info(self, port: int) -> str:
        done = subprocess.run(
            [self.cli, "-p", str(port), "cluster", "info"], capture_output=True, timeout=5
        )
        return done.stdout.decode()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
