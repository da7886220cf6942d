"""Google Gemini: the ``generateContent`` wire format, spoken by the Gemini API
(AI Studio, ``gemini/...``) and by Vertex AI (``vertex/...``).

The two endpoints share the codec and differ in URL and credentials:

- ``gemini/<model>``: ``https://generativelanguage.googleapis.com/v1beta``
  (or ``GEMINI_BASE_URL``) ``/models/<model>:streamGenerateContent?alt=sse``;
  the key, from ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``, travels in the
  ``x-goog-api-key`` header, never in the URL.
- ``vertex/<model>``: ``https://<location>-aiplatform.googleapis.com/v1/
  projects/<project>/locations/<location>/publishers/google/models/<model>``
  with ``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_LOCATION`` (default
  ``us-central1``; ``global`` uses ``aiplatform.googleapis.com``), and an
  OAuth access token as a bearer token, from ``api_key=`` or
  ``VERTEX_ACCESS_TOKEN``. rill runs no OAuth flow: ``gcloud auth
  print-access-token`` prints a token (valid for about an hour). A
  ``base_url`` replaces the ``https://.../v1`` part.

Request building is in ``_gemini_request``, decoding in ``_gemini_stream``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .._chunks import StreamChunk
from .._errors import ConfigurationError, MissingAPIKeyError
from ._base import Call
from ._gemini_request import GEMINI_PARAMS, build_gemini_body
from ._gemini_stream import GeminiDecoder, decode_gemini_response
from ._provider import Provider

__all__ = ["GeminiCodec", "GeminiDecoder", "GeminiProvider", "VertexProvider", "providers"]

_LOCATION = re.compile(r"[a-z0-9-]+")


class GeminiCodec:
    """Builds ``generateContent`` requests and decodes their responses."""

    name = "gemini"
    supported_params = GEMINI_PARAMS

    def path(self, call: Call) -> str:
        """The Gemini API path, for endpoints that take it as it is."""
        return f"/{_model_path(call.model, 'models/')}{_method(call)}"

    def build_body(self, call: Call) -> dict[str, Any]:
        return build_gemini_body(self, call)

    def stream_decoder(self, call: Call) -> GeminiDecoder:
        return GeminiDecoder(call.n, call.provider, max_event_bytes=call.max_event_bytes)

    def decode_response(self, call: Call, body: bytes) -> list[StreamChunk]:
        return decode_gemini_response(
            body, call.provider or "gemini", max_event_bytes=call.max_event_bytes
        )


@dataclass(frozen=True)
class GeminiProvider(Provider):
    """The Gemini API. A model may be named bare (``gemini-2.5-flash``) or
    as a resource (``models/...``, ``tunedModels/...``)."""

    def url(self, base_url: str, call: Call) -> str:
        return f"{base_url}/{_model_path(call.model, 'models/')}{_method(call)}"


@dataclass(frozen=True)
class VertexProvider(Provider):
    """Vertex AI's Gemini endpoint. A model may be a bare Google model name,
    a publisher path (``publishers/<who>/models/<name>``) or a full resource
    name (``projects/.../endpoints/...``)."""

    def url(self, base_url: str, call: Call) -> str:
        project = os.environ.get("GOOGLE_CLOUD_PROJECT")
        if not project:
            raise ConfigurationError(
                f"no Google Cloud project for {self.name}/{call.model}: set GOOGLE_CLOUD_PROJECT"
            )
        location = os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
        if not _LOCATION.fullmatch(location):
            raise ConfigurationError(f"GOOGLE_CLOUD_LOCATION={location!r} is not a location name")
        if not base_url:
            host = "aiplatform.googleapis.com"
            if location != "global":
                host = f"{location}-{host}"
            base_url = f"https://{host}/v1"
        method = _method(call)
        if call.model.startswith("projects/"):
            return f"{base_url}/{quote(call.model)}{method}"
        scope = f"{base_url}/projects/{quote(project, safe='')}/locations/{location}"
        return f"{scope}/{_model_path(call.model, 'publishers/google/models/')}{method}"

    def resolve_api_key(self, api_key: str | None) -> str | None:
        try:
            return super().resolve_api_key(api_key)
        except MissingAPIKeyError as exc:
            exc.args = (f"{exc} (`gcloud auth print-access-token` prints one)",)
            raise


def providers() -> list[Provider]:
    """The endpoints this module's codec serves."""
    codec = GeminiCodec()
    return [
        GeminiProvider(
            "gemini",
            codec,
            "https://generativelanguage.googleapis.com/v1beta",
            api_key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            base_url_env=("GEMINI_BASE_URL",),
            auth_header="x-goog-api-key",
            auth_scheme="",
        ),
        VertexProvider("vertex", codec, "", api_key_env=("VERTEX_ACCESS_TOKEN",)),
    ]


def _method(call: Call) -> str:
    """The method part of a model's URL."""
    return ":streamGenerateContent?alt=sse" if call.stream else ":generateContent"


def _model_path(model: str, prefix: str) -> str:
    """``model`` as a URL path: bare names get ``prefix``; resource names
    (with a ``/``) are used as they are."""
    return quote(model) if "/" in model else prefix + quote(model, safe="")
