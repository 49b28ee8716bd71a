"""Settings: read once, at the edge (CLI or bot start), and passed down."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qabot.embedding import DEFAULT_MODEL, canonical_name, cosine_scale, model_prompts
from qabot.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "Settings", "default_model_cache", "load_settings"]

ENV_PREFIX = "QABOT_"
TELEGRAM_API = "https://api.telegram.org/bot"
_TOKEN = re.compile(r"^[0-9]{5,}:[A-Za-z0-9_-]{30,}$")

IdList = Annotated[list[int], NoDecode]

#: Measured by `bench/grouping.py` and `bench/recency.py` (README, News).
DUPLICATE_THRESHOLD = 0.5
RECENCY_HALF_LIFE_DAYS = 30.0


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
    model_cache: Path = Field(default_factory=lambda: default_model_cache(),
                              description="Where the default model is rebuilt (about 470 MB).")
    query_prompt: str | None = Field(None, description="Prefix added to questions; unset: "
                                                       "the model's own ('query: ' for e5).")
    passage_prompt: str | None = Field(None, description="Prefix added to passages; unset: "
                                                         "the model's own ('passage: ' for e5).")
    device: str = Field("cpu", description="torch device for the embedding model.")
    batch_size: int = Field(32, ge=1, le=4096)
    chunk_words: int = Field(200, ge=20, le=2000, description="Word budget of a chunk.")
    chunk_overlap: int = Field(1, ge=0, le=10, description="Sentences shared by adjacent chunks.")
    top_k: int = Field(3, ge=1, le=50, description="Most passages per answer.")
    cosine_floor: float | None = Field(None, ge=-1.0, le=1.0,
                                       description="Cosine meaning 'unrelated'; unset: the "
                                                   "model's own (e5: 0.75, others: 0).")
    cosine_ceiling: float | None = Field(None, ge=-1.0, le=1.0,
                                         description="Cosine meaning 'as close as it gets'; "
                                                     "unset: the model's own (e5: 0.92, "
                                                     "others: 1).")
    dense_weight: float = Field(0.6, ge=0.0, le=1.0)
    lexical_weight: float = Field(0.4, ge=0.0, le=1.0)
    quote_weight: float = Field(0.15, ge=0.0, le=1.0,
                                description="Share of a passage's score from the quote's own "
                                            "coverage of the question.")
    min_relevance: float = Field(0.0, ge=-1.0, le=1.0,
                                 description="Abstention cut: raise it to refuse more questions, "
                                             "lower it to answer more (see qabot/abstain.py).")
    show_ratio: float = Field(0.8, ge=0.0, le=1.0,
                              description="By default, passages scoring below this share of the "
                                          "best one are held back (0: show all top_k).")
    max_quote_chars: int = Field(900, ge=80, le=5000)
    today: date | None = Field(None, description="The day relative dates count from "
                                                 "(\"yesterday\", \"la semaine dernière\"); "
                                                 "unset: the machine's date.")
    recency_half_life_days: float = Field(
        RECENCY_HALF_LIFE_DAYS, ge=0.0, le=36500.0,
        description="Among passages that answer about equally well, newer articles rank "
                    "first; an article this many days old gets half the newest one's boost. "
                    "0 turns it off.")
    duplicate_threshold: float = Field(
        DUPLICATE_THRESHOLD, gt=0.0, le=1.0,
        description="Share of the shorter article's 5-word runs found in another, from which "
                    "both are one story (shown once, 'also reported by').")
    serve_idle_seconds: int = Field(
        900, ge=0, le=86400,
        description="A one-shot `qabot ask` starts a server in the background that answers the "
                    "next ones without loading the model, and leaves after this many idle "
                    "seconds; 0: never start one.")
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
        return canonical_name(value)

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
        low, high = self.cosine_scale
        if high <= low:
            raise ValueError("QABOT_COSINE_CEILING must be above QABOT_COSINE_FLOOR")
        if self.chunk_overlap * 20 >= self.chunk_words:
            raise ValueError("QABOT_CHUNK_OVERLAP is too large for QABOT_CHUNK_WORDS")
        return self

    @property
    def fusion_weights(self) -> tuple[float, float]:
        """(dense, lexical), scaled to sum to 1 so fused scores stay in [0, 1]."""
        total = self.dense_weight + self.lexical_weight
        return self.dense_weight / total, self.lexical_weight / total

    @property
    def cosine_scale(self) -> tuple[float, float]:
        """(floor, ceiling): the cosines fusion maps to 0 and 1."""
        low, high = cosine_scale(self.embedding_model)
        return (low if self.cosine_floor is None else self.cosine_floor,
                high if self.cosine_ceiling is None else self.cosine_ceiling)

    @property
    def prompts(self) -> tuple[str, str]:
        """(query, passage) prompts: the settings when given, else the model's own."""
        query, passage = model_prompts(self.embedding_model)
        return (query if self.query_prompt is None else self.query_prompt,
                passage if self.passage_prompt is None else self.passage_prompt)

    @property
    def current_day(self) -> date:
        """Today, or QABOT_TODAY when set (tests, demos)."""
        return self.today or date.today()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never be printed or logged."""
        return tuple(s.get_secret_value().strip()
                     for s in (self.telegram_token, self.telegram_webhook_secret) if s)


def default_model_cache() -> Path:
    """$XDG_CACHE_HOME/qabot/models, or ~/.cache/qabot/models."""
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "qabot" / "models"


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
