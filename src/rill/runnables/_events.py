"""The run tree and its events, as plain objects: no I/O, no awaiting.

A ``Tracer`` belongs to one top-level call. Steps report to it when a run
starts, streams a chunk, ends or fails; it turns those into event dicts of
the ``astream_events`` schema (``event``, ``data``, ``name``, ``tags``,
``run_id``, ``metadata`` and ``parent_ids``: root first in v2, always
empty in v1), keeps the
ones the caller's filter lets through in a queue the driver drains between
chunks, and hands every event to the callback handlers. The sync and async
paths share all of it; only how a step is executed differs.

The filter is decided once per run (a run's name, type and tags never
change), so a streamed chunk costs one flag test and one dict.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from .._errors import InvalidRequestError
from ._callbacks import Handlers
from ._merge import Lazy

__all__ = ["EventFilter", "Run", "Tracer", "Version"]

Version = Literal["v1", "v2"]
Event = dict[str, Any]
_MISSING: Any = object()


class EventFilter:
    """Which runs' events ``astream_events`` yields. With no ``include_*``
    every run is in; any ``include_*`` that matches brings a run in; any
    ``exclude_*`` that matches leaves it out."""

    __slots__ = (
        "exclude_names",
        "exclude_tags",
        "exclude_types",
        "include_names",
        "include_tags",
        "include_types",
    )

    def __init__(
        self,
        *,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
    ) -> None:
        self.include_names = _names(include_names, "include_names")
        self.include_types = _names(include_types, "include_types")
        self.include_tags = _names(include_tags, "include_tags")
        self.exclude_names = _names(exclude_names, "exclude_names")
        self.exclude_types = _names(exclude_types, "exclude_types")
        self.exclude_tags = _names(exclude_tags, "exclude_tags")

    def admits(self, name: str, run_type: str | None, tags: Iterable[str]) -> bool:
        tags = tuple(tags)
        if self.include_names is None and self.include_types is None and self.include_tags is None:
            keep = True
        else:
            keep = (
                (self.include_names is not None and name in self.include_names)
                or (self.include_types is not None and run_type in self.include_types)
                or (self.include_tags is not None and any(t in self.include_tags for t in tags))
            )
        if self.exclude_names is not None and name in self.exclude_names:
            return False
        if self.exclude_types is not None and run_type in self.exclude_types:
            return False
        if self.exclude_tags is not None and any(t in self.exclude_tags for t in tags):
            return False
        return keep


def _names(value: Sequence[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise InvalidRequestError(f"{what} must be a list of strings, not {value!r}")
    return frozenset(value)


class Run:
    """One execution of one step: its identity, tags, metadata and place in
    the tree, and (once it ended) its output."""

    __slots__ = (
        "ev_end",
        "ev_start",
        "ev_stream",
        "inherited_metadata",
        "inherited_tags",
        "keep",
        "metadata",
        "name",
        "output",
        "parent_ids",
        "root",
        "run_id",
        "run_type",
        "tags",
    )

    def __init__(
        self,
        name: str,
        run_type: str,
        tags: list[str],
        metadata: dict[str, Any],
        parent: Run | None,
        inherited_tags: tuple[str, ...],
        inherited_metadata: dict[str, Any],
        run_id: str | None = None,
    ) -> None:
        self.name = name
        self.run_type = run_type
        self.tags = tags
        self.metadata = metadata
        self.inherited_tags = inherited_tags
        self.inherited_metadata = inherited_metadata
        self.run_id = run_id or str(uuid.uuid4())
        self.parent_ids: list[str] = [] if parent is None else [*parent.parent_ids, parent.run_id]
        self.root = parent is None
        self.ev_start = f"on_{run_type}_start"
        self.ev_stream = f"on_{run_type}_stream"
        self.ev_end = f"on_{run_type}_end"
        self.keep = True
        self.output: Any = _MISSING

    @property
    def has_output(self) -> bool:
        return self.output is not _MISSING

    def __repr__(self) -> str:
        return f"<Run {self.run_type} {self.name!r} {self.run_id}>"


class Tracer:
    """Collects the events of one top-level call.

    ``version`` is None when nobody asked for the event stream (a traced
    ``invoke``, or callbacks alone): then nothing is queued. ``end_output``
    formats a run's output for the end event (v1 shows a chat model's output
    in LangChain's older ``generations`` shape)."""

    __slots__ = ("_filter", "events", "handlers", "v2", "version")

    def __init__(
        self,
        version: Version | None = None,
        event_filter: EventFilter | None = None,
        handlers: Handlers | None = None,
    ) -> None:
        if version not in (None, "v1", "v2"):
            raise InvalidRequestError(f"version must be 'v1' or 'v2', not {version!r}")
        self.version = version
        self.v2 = version != "v1"
        self._filter = event_filter
        self.events: deque[Event] = deque()
        self.handlers = handlers

    def start(self, run: Run, data: dict[str, Any]) -> None:
        if self.version is None:
            run.keep = False
        elif self._filter is not None:
            run.keep = self._filter.admits(run.name, run.run_type, run.tags)
        if run.keep or self.handlers is not None:
            event = self._event(run, run.ev_start, data)
            if run.keep:
                self.events.append(event)
            if self.handlers is not None:
                self.handlers.on_start(event)

    def stream(self, run: Run, chunk: Any) -> None:
        # The one call per chunk per run: the event is built inline.
        if run.keep:
            event = {
                "event": run.ev_stream,
                "data": {"chunk": chunk},
                "name": run.name,
                "tags": run.tags,
                "run_id": run.run_id,
                "metadata": run.metadata,
                "parent_ids": run.parent_ids if self.v2 else [],
            }
            self.events.append(event)
            if self.handlers is not None:
                self.handlers.on_chunk(event)
        elif self.handlers is not None:
            self.handlers.on_chunk(self._event(run, run.ev_stream, {"chunk": chunk}))

    def end(self, run: Run, output: Any, input: Any = _MISSING, v1_output: Any = _MISSING) -> None:
        run.output = output
        if not (run.keep or self.handlers is not None):
            return
        shown = output if self.v2 or v1_output is _MISSING else v1_output
        if run.root or input is _MISSING:
            data = {"output": shown}
        else:
            data = {"output": shown, "input": input.value() if input.__class__ is Lazy else input}
        event = self._event(run, run.ev_end, data)
        if run.keep:
            self.events.append(event)
        if self.handlers is not None:
            self.handlers.on_end(event)

    def error(self, run: Run, error: BaseException, input: Any = _MISSING) -> None:
        """A run failed (or was cancelled). The event stream shows no end for
        it, as LangChain's does; handlers hear ``on_error``."""
        if self.handlers is not None:
            data: dict[str, Any] = {"error": error}
            if input is not _MISSING:
                data["input"] = input
            self.handlers.on_error(self._event(run, f"on_{run.run_type}_error", data))

    def custom(self, run: Run, name: str, data: Any) -> None:
        """``dispatch_event`` from inside ``run``: named by the caller, tagged
        with what the run inherited (not its own step tags)."""
        keep = self.version is not None and (
            # As in LangChain, a custom event has no run type to filter on.
            self._filter is None or self._filter.admits(name, None, run.inherited_tags)
        )
        if not (keep or self.handlers is not None):
            return
        event: Event = {
            "event": "on_custom_event",
            "data": data,
            "name": name,
            "tags": list(run.inherited_tags),
            "run_id": run.run_id,
            "metadata": run.inherited_metadata,
        }
        event["parent_ids"] = run.parent_ids if self.v2 else []
        if keep:
            self.events.append(event)
        if self.handlers is not None:
            self.handlers.on_custom(event)

    def _event(self, run: Run, kind: str, data: dict[str, Any]) -> Event:
        if self.v2:
            return {
                "event": kind,
                "data": data,
                "name": run.name,
                "tags": run.tags,
                "run_id": run.run_id,
                "metadata": run.metadata,
                "parent_ids": run.parent_ids,
            }
        return {
            "event": kind,
            "data": data,
            "name": run.name,
            "tags": run.tags,
            "run_id": run.run_id,
            "metadata": run.metadata,
            "parent_ids": [],
        }
