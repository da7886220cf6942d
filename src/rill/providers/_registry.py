"""The provider registry: a provider name -> its ``Provider`` (codec + endpoint).

Model strings are resolved here. Third-party packages add providers with
``register_provider`` or through the ``rill.providers`` entry-point group (an
entry point names a ``Provider`` instance or a zero-argument callable returning
one); entry points are loaded only when a name is not found among the
built-ins, so they cost nothing at import.
"""

from __future__ import annotations

import threading

from .._errors import InvalidModelError, UnknownProviderError
from .._models import ModelName, bare_model_provider
from ._provider import Provider

__all__ = ["get_provider", "provider_names", "register_provider", "resolve_model"]

_providers: dict[str, Provider] = {}
_lock = threading.Lock()
_entry_points_loaded = False


def register_provider(provider: Provider, *, replace: bool = False) -> None:
    """Make ``provider`` available as ``"<provider.name>/<model>"``."""
    with _lock:
        if provider.name in _providers and not replace:
            raise ValueError(f"provider {provider.name!r} is already registered; pass replace=True")
        _providers[provider.name] = provider


def provider_names() -> list[str]:
    _load_entry_points()
    return sorted(_providers)


def get_provider(name: str) -> Provider:
    provider = _providers.get(name)
    if provider is None:
        _load_entry_points()
        provider = _providers.get(name)
    if provider is None:
        known = ", ".join(sorted(_providers))
        raise UnknownProviderError(f"unknown provider {name!r}; known providers: {known}")
    return provider


def resolve_model(model: str) -> tuple[Provider, str]:
    """Split ``"provider/model"`` (or a bare well-known model name) into the
    provider and the provider's own model id."""
    if isinstance(model, ModelName):
        model = model.value
    if not isinstance(model, str):
        raise InvalidModelError(f"model must be a string or ModelName, not {type(model).__name__}")
    name, slash, rest = model.partition("/")
    if not model.strip() or model != model.strip():
        raise InvalidModelError(f"malformed model {model!r}; expected 'provider/model'")
    if slash:
        if not name or not rest:
            raise InvalidModelError(f"malformed model {model!r}; expected 'provider/model'")
        return get_provider(name).for_model(rest)
    provider_name = bare_model_provider(model)
    if provider_name is None:
        raise InvalidModelError(
            f"cannot tell which provider serves {model!r}; write it as 'provider/{model}' "
            f"(providers: {', '.join(provider_names())})"
        )
    return get_provider(provider_name), model


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    # Imported here: importlib.metadata costs ~20 ms, which `import rill`
    # does not pay unless a name outside the built-in registry is asked for.
    from importlib.metadata import entry_points

    for ep in entry_points(group="rill.providers"):
        if ep.name in _providers:
            continue
        loaded = ep.load()
        provider = loaded if isinstance(loaded, Provider) else loaded()
        if not isinstance(provider, Provider):
            raise TypeError(f"entry point {ep.value!r} did not give a rill Provider")
        register_provider(provider)
