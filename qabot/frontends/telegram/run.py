"""`qabot bot`: load the model and index once, then poll Telegram or serve its webhook."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from qabot.config import Settings
from qabot.errors import ConfigError
from qabot.frontends.redact import Redactor

__all__ = ["run_bot"]

if TYPE_CHECKING:
    from telegram.ext import Application

log = logging.getLogger(__name__)


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
    # The CLI installs it too; here for anyone who calls run_bot directly.
    Redactor(settings.secrets).install()
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise

    from telegram.error import InvalidToken

    # python-telegram-bot logs a rejected token with its traceback before raising it; the one
    # line below says it all, so the traceback is kept for DEBUG.
    logging.getLogger("telegram.ext").addFilter(_QuietAbout(InvalidToken))

    from qabot.engine import Qabot
    from qabot.frontends.telegram.bot import build_application
    from qabot.frontends.telegram.feedback import FeedbackStore

    qabot = Qabot.open(settings)
    qabot.warm_up()
    app = build_application(settings, qabot, FeedbackStore(settings.index_dir))
    try:
        _serve(app, settings)
    except InvalidToken:
        # Its message holds the token: say what happened without it.
        raise ConfigError(
            "Telegram refused QABOT_TELEGRAM_TOKEN (401 Unauthorized): it was revoked or "
            "mistyped; copy the bot's current token from @BotFather (/mybots, API Token)"
        ) from None


class _QuietAbout(logging.Filter):
    """Drops records about one kind of exception unless the log level is DEBUG."""

    def __init__(self, kind: type[BaseException]) -> None:
        super().__init__()
        self._kind = kind

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return (not isinstance(exc, self._kind)
                or logging.getLogger().isEnabledFor(logging.DEBUG))


def _serve(app: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    from telegram import Update

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
