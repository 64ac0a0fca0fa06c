"""``python -m benchmarks``: run every suite (see run.py)."""

import sys

from benchmarks.run import main

sys.exit(main())
