"""``python -m flows run --period YYYY-MM ...``: the same as the ``dpmon`` command."""

from flows.cli import console

console()
