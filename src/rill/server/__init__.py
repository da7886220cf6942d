"""rill's server: re-streams generations to browsers and OpenAI clients,
resumably, from any instance sharing a store (memory, SQLite or Redis).

Needs the ``server`` extra: ``pip install 'rill[server]'``. Run it with
``rill serve``, or mount ``RillServer`` in your own ASGI app.
"""

from ._app import RillServer
from ._config import Pipeline, ServerConfig, load_config
from ._log import Event, StreamInfo, StreamStore
from ._main import main
from ._memory import MemoryStore
from ._stores import open_store

__all__ = [
    "Event",
    "MemoryStore",
    "Pipeline",
    "RillServer",
    "ServerConfig",
    "StreamInfo",
    "StreamStore",
    "load_config",
    "main",
    "open_store",
]
