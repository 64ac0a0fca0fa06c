"""``python -m benchmarks.workers '<json spec>'`` (see __init__.py)."""

import sys

from benchmarks.workers import main

sys.exit(main(sys.argv[1:]))
