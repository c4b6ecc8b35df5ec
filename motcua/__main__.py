"""`python -m motcua` runs the command line."""

import sys

from motcua.cli import main

sys.exit(main())
