"""Third-party providers arrive through the ``rill.providers`` entry-point group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rill
from rill.providers import _registry
from rill.testing import Emulator, Script

MODULE = """
from rill import Provider
from rill.providers import OpenAIChatCodec

provider = Provider("acme-entry", OpenAIChatCodec(), "http://127.0.0.1:9/v1", key_required=False)


def make():
    return Provider("acme-factory", OpenAIChatCodec(), "http://127.0.0.1:9/v1", key_required=False)
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A distribution on sys.path, as pip would leave it, offering two providers."""
    (tmp_path / "rill_acme_plugin.py").write_text(MODULE)
    dist = tmp_path / "rill_acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rill-acme-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[rill.providers]\n"
        "acme-entry = rill_acme_plugin:provider\n"
        "acme-factory = rill_acme_plugin:make\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_registry, "_entry_points_loaded", False)
    yield
    for name in ("acme-entry", "acme-factory"):
        _registry._providers.pop(name, None)


@pytest.mark.usefixtures("installed_plugin")
def test_entry_point_providers_are_found(rill_emulator: Emulator) -> None:
    assert "acme-entry" in rill.providers.provider_names()
    rill_emulator.enqueue(Script.of_text("from a plugin"))
    response = rill.generate("Hi", model="acme-factory/m", base_url=rill_emulator.base_url)
    assert response.content == "from a plugin"
    assert response.provider == "acme-factory"
