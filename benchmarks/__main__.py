"""``python -m benchmarks ...`` is ``zoo bench ...`` (see ``zoo.bench``)."""

import sys

from zoo.cli import main

raise SystemExit(main(["bench", *sys.argv[1:]]))
