"""``python -m rill`` runs the ``rill`` command."""

import sys

from .cli import main

sys.exit(main())
