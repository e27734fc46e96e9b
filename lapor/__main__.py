"""``python -m lapor``: the same as the ``lapor`` command."""

import sys

from lapor.cli import main

sys.exit(main())
