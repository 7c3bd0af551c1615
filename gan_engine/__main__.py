"""``python -m gan_engine ...``: see gan_engine.cli."""

import sys

from gan_engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
