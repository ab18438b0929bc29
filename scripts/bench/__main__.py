"""`python -m scripts.bench`: see scripts/bench/main.py."""

import sys

from scripts.bench.main import main

sys.exit(main())
