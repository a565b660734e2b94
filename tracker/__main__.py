"""``python -m tracker``: the same as the installed ``tracker`` command."""

from tracker.cli import main

main()
