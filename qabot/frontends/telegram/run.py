"""`qabot bot`: load the model and index once, then poll Telegram or serve its webhook."""

from __future__ import annotations

import logging

from qabot.config import Settings
from qabot.errors import ConfigError

__all__ = ["RedactToken", "run_bot"]

log = logging.getLogger(__name__)


class RedactToken(logging.Filter):
    """Blanks the bot token out of every log record (httpx logs request URLs that hold it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token in message:
            record.msg, record.args = message.replace(self._token, "<token>"), None
        if record.exc_info and not record.exc_text:
            # Format the traceback now, redacted; the formatter reuses exc_text as it is.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = record.exc_text.replace(self._token, "<token>")
        return True


def run_bot(settings: Settings) -> None:
    """Run until interrupted."""
    if settings.telegram_token is None:
        raise ConfigError(
            "QABOT_TELEGRAM_TOKEN is not set: create a bot with @BotFather and put its token "
            "in QABOT_TELEGRAM_TOKEN (environment or .env)"
        )
    if settings.telegram_webhook_url and settings.telegram_webhook_secret is None:
        raise ConfigError(
            "QABOT_TELEGRAM_WEBHOOK_SECRET is not set: webhook mode needs a secret token that "
            "Telegram sends with every update (letters, digits, _ and -)"
        )
    token = settings.telegram_token.get_secret_value().strip()
    redact = RedactToken(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise

    from telegram import Update

    from qabot.engine import Qabot
    from qabot.frontends.telegram.bot import build_application
    from qabot.frontends.telegram.feedback import FeedbackStore

    qabot = Qabot.open(settings)
    qabot.warm_up()
    app = build_application(settings, qabot, FeedbackStore(settings.index_dir))
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        log.warning("serving the webhook on %s:%s/%s", settings.telegram_webhook_listen,
                    settings.telegram_webhook_port, settings.telegram_webhook_path)
        app.run_webhook(
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
            url_path=settings.telegram_webhook_path,
            webhook_url=settings.telegram_webhook_url,
            secret_token=secret.get_secret_value() if secret else None,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        log.warning("polling Telegram for updates; Ctrl-C stops the bot")
        app.run_polling(allowed_updates=Update.ALL_TYPES)
