"""Secrets (the bot token, the webhook secret) blanked out of everything the CLI prints or logs:
python-telegram-bot puts the token in request URLs and in the message of `InvalidToken`, and a
journal is read by more people than the bot's settings."""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["Redactor"]

MASK = "<redacted>"


class Redactor(logging.Filter):
    """A log filter that also redacts plain text; install it on every handler."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        parts: set[str] = set()
        for secret in secrets:
            if secret:
                parts.add(secret)
                # A bot token is "<bot id>:<secret>"; the id is public, the rest is not.
                _, _, tail = secret.partition(":")
                if len(tail) >= 8:
                    parts.add(tail)
        self._secrets = sorted(parts, key=len, reverse=True)  # the whole before its parts

    def text(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, MASK)
        return message

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self.text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Format the traceback now, redacted; the formatter reuses exc_text as it is.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.text(record.stack_info)
        return True

    def install(self) -> None:
        """On every handler of the root logger (where every record ends up)."""
        for handler in logging.getLogger().handlers:
            handler.addFilter(self)
