"""`qabot bot`: load the model and index once, then poll Telegram or serve its webhook."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from qabot.config import Settings
from qabot.errors import ConfigError, QabotError
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

    from telegram.error import InvalidToken, NetworkError

    # python-telegram-bot logs these with their tracebacks: a rejected token (the one line
    # below says it all) and network failures (its own line says which). Tracebacks are kept
    # for DEBUG.
    logging.getLogger("telegram.ext").addFilter(_Quieter(drop=InvalidToken,
                                                         shorten=NetworkError))

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
    except NetworkError as exc:  # before the first update: nothing could be reached
        raise QabotError(
            f"cannot reach the Telegram Bot API at {settings.telegram_api_url} ({exc}): check "
            "the network, or QABOT_TELEGRAM_API_URL"
        ) from None


class _Quieter(logging.Filter):
    """Unless the log level is DEBUG: drops records about exceptions of kind `drop`, and keeps
    only the line of those about kind `shorten`, without the traceback."""

    def __init__(self, drop: type[BaseException], shorten: type[BaseException]) -> None:
        super().__init__()
        self._drop, self._shorten = drop, shorten

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        if isinstance(exc, self._drop):
            return False
        if isinstance(exc, self._shorten):
            record.exc_info, record.exc_text = None, None
        return True


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
