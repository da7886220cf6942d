"""rill's server: re-streams generations to browsers and OpenAI clients,
resumably, from any instance sharing a store (memory, SQLite or Redis).

Needs the ``server`` extra: ``pip install 'rill[server]'``.
"""

from ._log import Event, StreamInfo, StreamStore
from ._memory import MemoryStore
from ._stores import open_store

__all__ = ["Event", "MemoryStore", "StreamInfo", "StreamStore", "open_store"]
