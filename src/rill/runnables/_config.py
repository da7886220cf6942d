"""What a step is run with: the tracer, its parent run, the tags and metadata
it inherits, and its own step tags and name.

``Context`` is created per step execution (not per chunk). ``dispatch_event``
finds the run it is called from through a context variable that function
steps set around the user's code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypedDict

from .._errors import InvalidRequestError
from ._callbacks import CallbackHandler
from ._events import Run, Tracer

__all__ = ["Context", "RunConfig", "check_config", "dispatch_event", "reset_current", "set_current"]


class RunConfig(TypedDict, total=False):
    """Per-call options of every runnable method (``config=``), and of
    ``with_config``: ``tags`` and ``metadata`` are inherited by every child
    run; ``run_name`` names this run only; ``callbacks`` hear every event of
    the call; ``max_concurrency`` bounds ``batch``; ``run_id`` fixes the root
    run's id."""

    tags: Sequence[str]
    metadata: Mapping[str, Any]
    run_name: str
    callbacks: Sequence[CallbackHandler]
    max_concurrency: int | None
    run_id: str


def check_config(config: Mapping[str, Any] | None) -> RunConfig:
    """A copy of ``config`` with its keys and types checked (at the call)."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidRequestError(f"config must be a dict, not {type(config).__name__}")
    unknown = set(config) - set(RunConfig.__annotations__)
    if unknown:
        raise InvalidRequestError(
            f"unknown config key(s) {sorted(unknown)}; known: {sorted(RunConfig.__annotations__)}"
        )
    tags = config.get("tags")
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise InvalidRequestError(f"tags must be a list of strings, not {tags!r}")
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidRequestError(f"metadata must be a dict, not {metadata!r}")
    name = config.get("run_name")
    if name is not None and not isinstance(name, str):
        raise InvalidRequestError(f"run_name must be a string, not {name!r}")
    limit = config.get("max_concurrency")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidRequestError(f"max_concurrency must be a positive int, not {limit!r}")
    return dict(config)  # type: ignore[return-value]


class Context:
    """How one step is run. ``run`` is set by the step once it started its
    run, so the parent can read the child's output when it ended.
    ``source`` is the context of the step whose output is this step's input
    (the step before it in a sequence), when there is one: its run's output
    is this run's input, so the input needs no second accumulation."""

    __slots__ = (
        "local_tags",
        "metadata",
        "parent",
        "run",
        "run_id",
        "run_name",
        "source",
        "tags",
        "tracer",
    )

    def __init__(
        self,
        tracer: Tracer | None,
        parent: Run | None = None,
        tags: tuple[str, ...] = (),
        metadata: dict[str, Any] | None = None,
        local_tags: tuple[str, ...] = (),
        run_name: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self.tracer = tracer
        self.parent = parent
        self.tags = tags
        self.metadata = metadata if metadata is not None else {}
        self.local_tags = local_tags
        self.run_name = run_name
        self.run_id = run_id
        self.run: Run | None = None
        self.source: Context | None = None

    @classmethod
    def root(cls, tracer: Tracer | None, config: RunConfig) -> Context:
        return cls(
            tracer,
            tags=tuple(config.get("tags", ())),
            metadata=dict(config.get("metadata", {})),
            run_name=config.get("run_name"),
            run_id=config.get("run_id"),
        )

    def child(self, local_tag: str | None = None, source: Context | None = None) -> Context:
        """The context of a child step of the run this context started, fed
        by ``source``'s output."""
        run = self.run
        if run is None:  # an untraced step: nothing to inherit from a run
            child = Context(None, None, self.tags, self.metadata, (local_tag,) if local_tag else ())
        else:
            child = Context(
                self.tracer,
                run,
                run.inherited_tags,
                run.inherited_metadata,
                (local_tag,) if local_tag else (),
            )
        child.source = source
        return child

    def configured(self, config: RunConfig) -> Context:
        """This context with a ``with_config`` layer on top."""
        tags = self.tags + tuple(t for t in config.get("tags", ()) if t not in self.tags)
        metadata = {**self.metadata, **config.get("metadata", {})}
        inner = Context(
            self.tracer,
            self.parent,
            tags,
            metadata,
            self.local_tags,
            config.get("run_name", self.run_name),
            self.run_id,
        )
        inner.source = self.source
        return inner

    def start(self, name: str, run_type: str, metadata: Mapping[str, Any] | None = None) -> Run:
        """Create this step's run (not yet reported to the tracer)."""
        own = {**self.metadata, **metadata} if metadata else self.metadata
        run = Run(
            self.run_name or name,
            run_type,
            [*self.local_tags, *self.tags],
            own,
            self.parent,
            self.tags,
            self.metadata,
            self.run_id,
        )
        self.run = run
        return run


_CURRENT: ContextVar[tuple[Tracer | None, Run | None] | None] = ContextVar(
    "rill_current_run", default=None
)


def set_current(tracer: Tracer | None, run: Run | None) -> Any:
    return _CURRENT.set((tracer, run))


def reset_current(token: Any) -> None:
    _CURRENT.reset(token)


def dispatch_event(name: str, data: Any) -> None:
    """Emit a custom event (``on_custom_event``, named ``name``, carrying
    ``data``) from inside a step of a chain: a function or generator step.

    It reaches ``astream_events`` and callback handlers; without either it
    costs nothing. Outside a step it is an error (there is no run to attach
    it to)."""
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"dispatch_event needs a non-empty name, not {name!r}")
    current = _CURRENT.get()
    if current is None:
        raise InvalidRequestError(
            "dispatch_event() was called outside a runnable step; call it from a "
            "function or generator that runs as a step of a chain"
        )
    tracer, run = current
    if tracer is not None and run is not None:
        tracer.custom(run, name, data)
