"""`python -m insightly.cli`: the `insightly` command."""

import sys

from insightly.cli import main

sys.exit(main())
