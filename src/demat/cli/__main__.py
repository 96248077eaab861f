"""``python -m demat.cli``."""

import sys

from demat.cli import main

sys.exit(main())
