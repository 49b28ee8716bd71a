"""Embedding: a sentence-transformers model, loaded lazily, producing normalized float32 vectors."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qabot.embedding import DEFAULT_MODEL, model_path
from qabot.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from qabot.config import Settings

__all__ = ["Embedder", "embedder_for"]

log = logging.getLogger(__name__)


class Embedder:
    """Wraps one SentenceTransformer; heavy imports happen on first use, not at import."""

    def __init__(self, name: str, *, cache_dir: Path, device: str = "cpu",
                 query_prompt: str = "", passage_prompt: str = "", batch_size: int = 32) -> None:
        self.name = name
        self.cache_dir = cache_dir
        self.device = device
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        # Hugging Face fast tokenizers are not safe to call from two threads at once
        # ("Already borrowed"); the bot asks from worker threads.
        self._lock = threading.RLock()

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        path = model_path(self.name, self.cache_dir)
        # Quiet the library's own progress bars and warnings; qabot shows its own progress.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        logging.getLogger("transformers").setLevel(logging.ERROR)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            return SentenceTransformer(path, device=self.device)
        except Exception as exc:  # noqa: BLE001 - any load failure gets the same advice
            reason = str(exc).strip().split("\n", 1)[0][:200]
            fix = (f"delete {path} to have it rebuilt" if self.name == DEFAULT_MODEL else
                   "set QABOT_EMBEDDING_MODEL to a sentence-transformers model folder on disk, "
                   "or unset it to use the offline default")
            raise ModelLoadError(f"cannot load embedding model {self.name!r} "
                                 f"({type(exc).__name__}: {reason}); {fix}") from None

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise ModelLoadError(f"model {self.name!r} does not say its embedding dimension; "
                                 "use a sentence-transformers model with a pooling layer")
        return int(dim)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode([self.passage_prompt + t for t in texts], progress=progress)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prompt + t for t in texts], progress=False)

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def embedder_for(settings: Settings) -> Embedder:
    """The embedder the settings name, with the prompts and batch size they give."""
    query_prompt, passage_prompt = settings.prompts
    return Embedder(settings.embedding_model, cache_dir=settings.model_cache,
                    device=settings.device, query_prompt=query_prompt,
                    passage_prompt=passage_prompt, batch_size=settings.batch_size)
