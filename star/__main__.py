"""``python -m star`` runs the same command line as the ``star`` console script."""

import sys

from star.cli import main

if __name__ == "__main__":
    sys.exit(main())
