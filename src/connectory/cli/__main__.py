"""``python -m connectory.cli``."""

from connectory.cli.app import main

main()
