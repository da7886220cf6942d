"""The ``rill_emulator`` pytest fixture, registered through the ``pytest11``
entry point so that every project with rill installed gets it.

pytest imports this module at start-up in every such project, so it imports
nothing of rill until a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rill.testing import Emulator

__all__ = ["rill_emulator"]


@pytest.fixture
def rill_emulator() -> Iterator[Emulator]:
    """A started ``rill.testing.Emulator``, closed after the test."""
    from rill.testing import Emulator

    with Emulator() as emulator:
        yield emulator
