"""`python -m affectrep ...`: the `affectrep` command."""

import sys

from affectrep.use.cli import main

if __name__ == "__main__":
    sys.exit(main())
