"""``python -m harness``: the ``elsinore`` command, stack and harness alike."""

from harness.cli import main

main()
