"""`python -m kat …` is the same as the `kat` command."""

import sys

from kat.cli import main

sys.exit(main())
