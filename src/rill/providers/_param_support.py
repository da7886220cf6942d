"""Which common parameters a codec supports, and how each goes on its wire:
one declaration per codec (``Codec.supported_params``), and one function,
``render_params``, that checks a call against it and renders what it may.

A declaration maps the name of a field of ``Params`` to:

- a ``str``: the value is sent as it is, under that key;
- a ``Render`` function ``(target, value, call)``: it writes the value into
  ``target`` in the shape the format wants, or raises
  ``InvalidRequestError`` for a value the format cannot express;
- ``Refused(why, accepts=...)``: the format has no such parameter. The one
  value that asks for nothing (``n=1``, ``parallel_tool_calls=True``) is
  accepted, so that code written for OpenAI runs unchanged; any other is
  refused with ``why``.

A parameter that is set and not declared is refused at the call (``build_body``
runs before any I/O), naming the provider and the parameter: no codec drops
one silently, and a codec that forgets to declare one fails the test that
walks the registry (``tests/providers/test_param_support.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from .._errors import InvalidRequestError
from .._params import ParamName

if TYPE_CHECKING:
    from ._base import Call, Codec

__all__ = ["ParamTable", "Refused", "Render", "as_list", "listed", "render_params"]

Render = Callable[[dict[str, Any], Any, "Call"], None]
"""Writes one set parameter's value into the codec's target (the body, or
the part of it that holds the parameters)."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A parameter the format has no equivalent for: ``why`` says so (and
    what to do instead); ``accepts`` is the one value let through because it
    asks for nothing (None: no value is)."""

    why: str
    accepts: object = None


ParamTable = Mapping[ParamName, str | Refused | Render]
"""A codec's declaration: each parameter it takes, and how it is rendered."""

_NAMES: tuple[ParamName, ...] = get_args(ParamName)


def render_params(codec: Codec, call: Call, target: dict[str, Any]) -> None:
    """Render ``call.params`` into ``target`` as ``codec.supported_params``
    declares, in the declaration's order; ``InvalidRequestError`` for a set
    parameter it does not declare or refuses."""
    table = codec.supported_params
    params = call.params
    for name in _NAMES:
        if name not in table and getattr(params, name) is not None:
            raise InvalidRequestError(
                f"provider {call.provider or codec.name!r} does not support the parameter "
                f"{name!r}; leave it out, or pass the provider's own field in extra_body={{...}}"
            )
    for name, spec in table.items():
        value = getattr(params, name)
        if value is None:
            continue
        if isinstance(spec, str):
            target[spec] = value
        elif isinstance(spec, Refused):
            if value != spec.accepts:
                raise InvalidRequestError(
                    f"provider {call.provider or codec.name!r} does not support "
                    f"{name}={value!r}: {spec.why}"
                )
        else:
            spec(target, value, call)


def as_list(value: str | list[str]) -> list[str]:
    """``stop`` as a list, for formats that take only a list of sequences."""
    return [value] if isinstance(value, str) else list(value)


def listed(key: str) -> Render:
    """Sends ``stop`` as a list under ``key``; an empty one asks for nothing
    and is not sent."""

    def render(target: dict[str, Any], value: Any, call: Call) -> None:
        if value:
            target[key] = as_list(value)

    return render
