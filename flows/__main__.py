"""``python -m flows run --period YYYY-MM ...``: the same as the ``dpmon`` command."""

import sys

from flows.cli import main

sys.exit(main())
