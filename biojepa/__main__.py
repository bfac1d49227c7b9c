"""``python -m biojepa`` (also what ``torchrun -m biojepa`` runs)."""

from biojepa.cli import main

main()
