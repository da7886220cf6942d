"""The object the structured benchmark streams, and the stream that carries it.

A ``Report`` (a title, a summary and rows of strings and numbers) is built to
about a given size of compact JSON, deterministically, so the server process
and the client process build the same one. Its JSON text travels in
``PIECE``-character pieces as an OpenAI Chat Completions SSE body.
"""

from __future__ import annotations

import random

import orjson
from pydantic import BaseModel

__all__ = [
    "PIECE",
    "PartialReport",
    "PartialRow",
    "Report",
    "Row",
    "document",
    "make_report",
    "pieces",
    "sse_body",
]

PIECE = 4
"""Characters of JSON text per streamed chunk."""

_NAMES = ("espresso", "flat white", "cortado", "filter", "cold brew", "mocha", "chai latte")
_REGIONS = ("Zürich", "São Paulo", "Kraków", "Osaka", "Austin", "Lagos", "Malmö")
_NOTES = (
    "steady",
    'up after the "summer" promotion',
    "down: roadworks outside",
    "new store opened\nmid-quarter",
    "flat",
)


class Row(BaseModel):
    id: int
    name: str
    region: str
    revenue: float
    units: int
    note: str


class Report(BaseModel):
    title: str
    summary: str
    rows: list[Row]


class PartialRow(BaseModel):
    """``Row`` with every field optional, for validating an incomplete document."""

    id: int | None = None
    name: str | None = None
    region: str | None = None
    revenue: float | None = None
    units: int | None = None
    note: str | None = None


class PartialReport(BaseModel):
    title: str | None = None
    summary: str | None = None
    rows: list[PartialRow] | None = None


def make_report(size: int) -> Report:
    """A report whose compact JSON is ``size`` characters or a row more."""
    rng = random.Random(size)
    report = Report(
        title="Quarterly sales by region",
        summary=(
            'Sales grew in five of seven regions; the "cold brew" line carried most of it.\n'
            "Figures are in euros, rounded to the cent; units are cups sold."
        ),
        rows=[],
    )
    length = len(report.model_dump_json())
    while length < size:
        row = Row(
            id=len(report.rows) + 1,
            name=rng.choice(_NAMES),
            region=rng.choice(_REGIONS),
            revenue=round(rng.uniform(100, 99_999), 2),
            units=rng.randrange(10, 20_000),
            note=rng.choice(_NOTES),
        )
        report.rows.append(row)
        length += len(row.model_dump_json()) + (1 if len(report.rows) > 1 else 0)
    return report


def document(size: int) -> str:
    """The JSON text of ``make_report(size)``, as the model would write it."""
    return make_report(size).model_dump_json()


def pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)]


def sse_body(text: str) -> tuple[bytes, int]:
    """An OpenAI Chat Completions stream of ``text`` in pieces, and its event length.

    Every event (each piece, then the finish chunk) is padded with spaces
    after its JSON to the same length, so a paced server can send exactly one
    event per write; ``data: [DONE]`` ends the body.
    """
    events = [_event({"content": piece}, None) for piece in pieces(text)]
    events.append(_event({}, "stop"))
    width = max(len(event) for event in events)
    body = b"".join(b"data: %b%b\n\n" % (e, b" " * (width - len(e))) for e in events)
    return body + b"data: [DONE]\n\n", width + len(b"data: \n\n")


def _event(delta: dict[str, str], finish_reason: str | None) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
    )
