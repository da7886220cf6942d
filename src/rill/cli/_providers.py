"""``rill providers``: every provider, where it points, which variable holds
its key and whether that variable is set here (never its value)."""

from __future__ import annotations

import os
from typing import TextIO

from ..providers import get_provider, provider_names

__all__ = ["provider_rows", "run_providers"]

_HEADER = ("provider", "protocol", "key variable", "key")


def provider_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for name in provider_names():
        provider = get_provider(name)
        variables = " or ".join(provider.api_key_env) or "-"
        if any(os.environ.get(var) for var in provider.api_key_env):
            state = "set"
        elif not provider.key_required:
            state = "not needed"
        else:
            state = "not set"
        rows.append((name, provider.codec.name, variables, state))
    return rows


def run_providers(out: TextIO, *, plain: bool) -> int:
    rows = provider_rows()
    if out.isatty() and not plain:
        from rich.table import Table

        from ._console import console

        table = Table(*_HEADER, box=None, header_style="bold")
        style = {"set": "green", "not set": "dim", "not needed": "cyan"}
        for row in rows:
            table.add_row(*row[:3], f"[{style[row[3]]}]{row[3]}[/]")
        console(out).print(table)
        return 0
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(4)]
    for row in [_HEADER, *rows]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    return 0
