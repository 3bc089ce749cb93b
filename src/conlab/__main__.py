"""``python -m conlab``."""

import sys

from conlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
