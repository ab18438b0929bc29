"""`python -m scripts.soak`: see scripts/soak/main.py."""

import sys

from scripts.soak.main import main

try:
    sys.exit(main())
except KeyboardInterrupt:
    print("soak interrupted; the stack is stopped", file=sys.stderr)
    sys.exit(130)
