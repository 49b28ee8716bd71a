"""The Telegram front end: a python-telegram-bot v22 Application over the qabot API."""
