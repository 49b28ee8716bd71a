"""The index on disk, read back: metadata store, dense and lexical indexes of the live generation."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qabot.config import Settings
from qabot.errors import IndexCorruptError, IndexMismatchError, NoIndexError
from qabot.index.dense import DenseIndex
from qabot.index.generations import current_generation, verify
from qabot.index.lexical import LexicalIndex
from qabot.index.store import Store
from qabot.search.abstain import Reference

__all__ = ["CALIBRATION", "DENSE", "FORMAT_VERSION", "LEXICAL", "STORE", "IndexStats", "OpenIndex",
           "SentenceChunks", "current_generation", "open_generation", "open_index", "read_stats"]

FORMAT_VERSION = 4
STORE, DENSE, LEXICAL, CALIBRATION = "qabot.sqlite", "dense.faiss", "lexical", "calibration.npy"


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What `qabot stats` shows; read from the metadata alone, without loading FAISS or a model."""

    documents: int
    chunks: int
    model: str
    dimension: int
    languages: tuple[str, ...]
    size_bytes: int
    built_at: str
    path: Path

    @classmethod
    def from_meta(cls, meta: dict[str, Any], path: Path) -> IndexStats:
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return cls(int(meta["documents"]), int(meta["chunks"]), str(meta["model"]),
                   int(meta["dimension"]), tuple(meta.get("languages", ())), size,
                   str(meta["built_at"]), path)

    @property
    def age_seconds(self) -> float:
        built = datetime.fromisoformat(self.built_at)
        return (datetime.now(UTC) - built).total_seconds()


@dataclass(frozen=True, slots=True)
class SentenceChunks:
    """Which chunks hold which sentences (the units the dense index keys by). Chunk ids and
    sentence ids both run in document order, so both bounds never decrease with the chunk id
    and a binary search finds the chunks of a sentence."""

    first: np.ndarray  # dense id of each chunk's first sentence, by chunk id
    last: np.ndarray
    language: np.ndarray  # by chunk id, an index into `languages`: its document's language
    languages: tuple[str, ...]

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, int, str]]) -> SentenceChunks:
        table = np.array([r[:3] for r in rows], dtype=np.int64).reshape(-1, 3)
        if not np.array_equal(table[:, 0], np.arange(len(table))):
            raise IndexCorruptError("the chunk table has gaps: run `qabot index --rebuild`")
        languages = tuple(sorted({r[3] for r in rows}))
        codes = {lang: i for i, lang in enumerate(languages)}
        language = np.array([codes[r[3]] for r in rows], dtype=np.uint8)
        return cls(table[:, 1].copy(), table[:, 2].copy(), language, languages)

    def other_language(self, lang: str) -> np.ndarray:
        """By chunk id: whether the chunk's document is in another language than `lang`."""
        if lang not in self.languages:
            return np.ones(len(self.language), dtype=bool)
        return np.asarray(self.language != self.languages.index(lang))

    def chunks_of(self, sentence: int) -> list[int]:
        """Ids of the chunks that hold a sentence (two where chunks overlap)."""
        i = int(np.searchsorted(self.first, sentence, side="right")) - 1
        found = []
        while i >= 0 and self.last[i] >= sentence:
            found.append(i)
            i -= 1
        return found[::-1]


@dataclass
class OpenIndex:
    """A loaded index generation: metadata store, dense and lexical indexes."""

    path: Path
    meta: dict[str, Any]
    store: Store
    dense: DenseIndex
    lexical: LexicalIndex
    spans: SentenceChunks
    reference: Reference

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.meta.get("languages", ()))

    @property
    def null_gap(self) -> float:
        return float(self.meta["calibration"]["null_gap"])


def _no_index(settings: Settings) -> NoIndexError:
    return NoIndexError(f"no index in {settings.index_dir}: run `qabot index` first to build it")


def read_stats(settings: Settings) -> IndexStats:
    gen = current_generation(settings.index_dir)
    if gen is None:
        raise _no_index(settings)
    store, meta = _open_store(gen)
    store.close()
    return IndexStats.from_meta(meta, gen)


def _open_store(gen: Path) -> tuple[Store, dict[str, Any]]:
    """The generation's metadata store and its meta table; an unreadable file gets the fix."""
    try:
        store = Store.open(gen / STORE)
        return store, store.meta()
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(
            f"cannot read {gen / STORE} ({exc}); run `qabot index --rebuild`") from None


def open_index(settings: Settings) -> OpenIndex:
    """Load the live generation, refusing one that is damaged or built with another model."""
    index = open_generation(settings)
    if index is None:
        raise _no_index(settings)
    return index


def open_generation(settings: Settings) -> OpenIndex | None:
    """Like `open_index`, but None when no generation was ever published."""
    for _ in range(3):
        gen = current_generation(settings.index_dir)
        if gen is None:
            return None
        if gen.is_dir():
            return _load(gen, settings)
        # CURRENT moved on while we read it and the old generation is gone: read it again.
    raise IndexCorruptError(f"the index in {settings.index_dir} names a generation that does "
                            "not exist; run `qabot index --rebuild`")


def _load(gen: Path, settings: Settings) -> OpenIndex:
    manifest = verify(gen)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {settings.index_dir} has format {manifest.get('format_version')}, "
            f"this qabot reads format {FORMAT_VERSION}: run `qabot index --rebuild`"
        )
    if manifest.get("model") != settings.embedding_model:
        raise IndexMismatchError(
            f"the index was built with model {manifest.get('model')!r} "
            f"(dimension {manifest.get('dimension')}), but QABOT_EMBEDDING_MODEL is "
            f"{settings.embedding_model!r}: run `qabot index --rebuild`, or set the model back"
        )
    store, meta = _open_store(gen)
    dense = DenseIndex.load(gen / DENSE)
    if dense.dimension != meta.get("dimension"):
        raise IndexCorruptError(
            f"the dense index has dimension {dense.dimension}, the metadata says "
            f"{meta.get('dimension')}: run `qabot index --rebuild`"
        )
    lexical = LexicalIndex.load(gen / LEXICAL)
    spans = SentenceChunks.from_rows(store.chunk_sentence_ids())
    if len(spans.last) and int(spans.last[-1]) + 1 != len(dense):
        raise IndexCorruptError(
            f"the dense index holds {len(dense)} sentences, the metadata "
            f"{int(spans.last[-1]) + 1}: run `qabot index --rebuild`")
    return OpenIndex(gen, meta, store, dense, lexical, spans, _reference(gen, meta, dense))


def _reference(gen: Path, meta: dict[str, Any], dense: DenseIndex) -> Reference:
    """The calibration vectors abstention reads questions against (see `abstain`)."""
    fix = "run `qabot index --rebuild`"
    try:
        vectors = np.load(gen / CALIBRATION, allow_pickle=False)
        info = meta["calibration"]
        anchors, texts_id = int(info["anchors"]), str(info["texts"])
        float(info["null_gap"])
    except (OSError, ValueError, KeyError, TypeError):
        raise IndexCorruptError(f"cannot read the calibration of {gen}; {fix}") from None
    if vectors.ndim != 2 or vectors.shape[1] != dense.dimension or not 0 < anchors < len(vectors):
        raise IndexCorruptError(f"the calibration of {gen} does not fit its index; {fix}")
    return Reference.unstack(vectors.astype(np.float32), anchors, texts_id)
