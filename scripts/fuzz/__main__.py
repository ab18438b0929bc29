"""`python -m scripts.fuzz`: see scripts/fuzz/main.py."""

import sys

from scripts.fuzz.main import main

sys.exit(main())
