"""`python -m qabot`."""

from qabot.frontends.cli import main

main()
