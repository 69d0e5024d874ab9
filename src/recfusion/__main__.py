"""``python -m recfusion`` runs the command-line interface."""

from recfusion.cli import main

main()
