"""``python -m lambench.cli``: the ``lambench`` command."""

from lambench.cli import main

main()
