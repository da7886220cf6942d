"""rill as it was at another commit, measured beside the working tree in one run.

``make bench-base BASE=<ref>`` exports ``src/rill`` of ``<ref>`` to a temporary
folder and sets ``RILL_BASE_SRC`` to it; the benchmarks then add "rill base"
clients, which import that copy as the package ``rill_base`` (rill's modules
import each other relatively, so both copies live in one interpreter). Same
process, same server, same rounds: before/after ratios are not blurred by
machine noise between two runs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["BASE_ENV", "base_rill", "has_base"]

BASE_ENV = "RILL_BASE_SRC"


def has_base() -> bool:
    return bool(os.environ.get(BASE_ENV))


def base_rill() -> ModuleType:
    """The base copy of rill, imported once as ``rill_base``."""
    if "rill_base" in sys.modules:
        return sys.modules["rill_base"]
    folder = Path(os.environ[BASE_ENV])
    spec = importlib.util.spec_from_file_location(
        "rill_base", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no rill package in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rill_base"] = module
    spec.loader.exec_module(module)
    return module
