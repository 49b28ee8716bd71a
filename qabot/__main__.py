"""`python -m qabot`."""

from qabot.cli import main

main()
