"""The server's settings: who may call it, what it may call, and its bounds.

Read from a TOML file (``rill serve --config FILE``) or built in code. Clients
never choose an upstream: base URLs and provider keys come from the server's
environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ...), so a request cannot
point the server at another host or read a key back.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Pipeline", "ServerConfig", "load_config"]

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A named generation: a prompt template filled from the request's
    ``input`` (``{name}`` fields), an optional system prompt, model and schema."""

    template: str
    system: str | None = None
    model: str | None = None
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the server decides; defaults suit one machine.

    ``api_keys``: bearer keys clients send; each key's streams are its own.
    ``auth=False`` serves without keys, allowed only on a loopback host.
    ``models``: allowed model strings (empty: any model rill resolves).
    """

    api_keys: frozenset[str] = frozenset()
    auth: bool = True
    models: frozenset[str] = frozenset()
    default_model: str = "openai/gpt-4o-mini"
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1 << 20
    max_streams_per_key: int = 16
    max_events: int = 100_000
    lease_ttl: float = 10.0
    keepalive: float = 15.0
    retry_ms: int = 2000
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    pipelines: Mapping[str, Pipeline] = field(default_factory=dict)

    def check(self, host: str) -> None:
        """Refuse settings that would expose the server: no keys off loopback."""
        if not self.auth and host not in LOOPBACK:
            raise ValueError(
                f"auth can be disabled only on a loopback host (127.0.0.1, ::1), not {host!r}"
            )
        if self.auth and not self.api_keys:
            raise ValueError(
                "no server API key: set RILL_SERVER_API_KEYS (comma-separated) or api_keys "
                "in the config file, or disable auth on 127.0.0.1 with --no-auth"
            )

    def tenant(self, authorization: str | None) -> str | None:
        """The caller's tenant (a digest of its key), or None when not allowed."""
        if not self.auth:
            return "local"
        if authorization is None:
            return None
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            return None
        key = key.strip()
        matched = False
        for candidate in self.api_keys:
            matched |= hmac.compare_digest(candidate.encode(), key.encode())
        if not matched:
            return None
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def _keys_from_env() -> frozenset[str]:
    raw = os.environ.get("RILL_SERVER_API_KEYS", "")
    return frozenset(k.strip() for k in raw.split(",") if k.strip())


def load_config(path: str | Path | None = None, **overrides: Any) -> ServerConfig:
    """Settings from ``path`` (TOML) and ``RILL_SERVER_API_KEYS``, then ``overrides``.

    The file may hold ``api_keys``, ``auth``, ``models``, ``default_model``,
    ``cors_origins``, the limits (``max_body_bytes``, ``max_streams_per_key``,
    ``max_events``, ``lease_ttl``, ``keepalive``, ``retry_ms``), a
    ``[schemas]`` table of JSON Schemas and a ``[pipelines.NAME]`` table per
    pipeline (``template``, ``system``, ``model``, ``schema``: a schema's name).
    """
    raw: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    known = set(ServerConfig.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown settings in {path}: {sorted(unknown)}")
    values: dict[str, Any] = dict(raw)
    values["api_keys"] = frozenset(raw.get("api_keys", ())) | _keys_from_env()
    values["models"] = frozenset(raw.get("models", ()))
    values["cors_origins"] = tuple(raw.get("cors_origins", ()))
    schemas = dict(raw.get("schemas", {}))
    values["schemas"] = schemas
    pipelines: dict[str, Pipeline] = {}
    for name, spec in dict(raw.get("pipelines", {})).items():
        schema_name = spec.get("schema")
        if schema_name is not None and schema_name not in schemas:
            raise ValueError(f"pipeline {name!r} names an unknown schema {schema_name!r}")
        pipelines[name] = Pipeline(
            template=str(spec["template"]),
            system=spec.get("system"),
            model=spec.get("model"),
            schema=schemas[schema_name] if schema_name is not None else None,
        )
    values["pipelines"] = pipelines
    values.update(overrides)
    return ServerConfig(**values)
