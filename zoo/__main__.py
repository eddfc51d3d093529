"""``python -m zoo``: the same as the ``zoo`` command."""

from .cli import main

raise SystemExit(main())
