"""Indexing: corpus -> sentences -> chunks -> dense (FAISS) + lexical (BM25) + SQLite, and loading it back.

An index lives in generation folders under the index dir; the file CURRENT names the live one
and is replaced atomically, so a failed or interrupted build leaves the previous index usable.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qabot.analyze import Analyzer
from qabot.chunk import chunk_document
from qabot.config import Settings
from qabot.dense import DenseIndex
from qabot.embed import Embedder
from qabot.errors import (
    CorpusError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    NoIndexError,
)
from qabot.lexical import LexicalIndex
from qabot.load import LoadReport, load_corpus
from qabot.records import Chunk, Document
from qabot.sentences import split_sentences
from qabot.store import Store

__all__ = ["FORMAT_VERSION", "IndexData", "IndexStats", "IndexSummary", "OpenIndex",
           "build_index", "embed_passages", "embedder_for", "index_fingerprint", "open_index",
           "passage_text", "prepare", "read_stats", "write_index"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_CURRENT = "CURRENT"
_STORE, _DENSE, _LEXICAL = "qabot.sqlite", "dense.faiss", "lexical"


@dataclass
class IndexSummary:
    """What `build_index` did, for the CLI to report."""

    documents: int
    chunks: int
    warnings: list[str]
    seconds: float
    up_to_date: bool = False
    path: Path | None = None


@dataclass
class IndexData:
    """Everything an index generation holds, before it is written."""

    documents: list[Document] = field(default_factory=list)
    sentences: dict[str, list[Any]] = field(default_factory=dict)
    sentence_terms: dict[str, list[list[str]]] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    chunk_terms: list[list[str]] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)


def passage_text(doc: Document, chunk: Chunk) -> str:
    """What the model embeds for a chunk: the article title gives the chunk its topic."""
    return f"{doc.title}\n\n{chunk.text}"


def index_fingerprint(settings: Settings, docs: list[Document]) -> str:
    """Changes whenever a rebuild would produce a different index."""
    shape = [FORMAT_VERSION, settings.embedding_model, settings.passage_prompt,
             settings.chunk_words, settings.chunk_overlap,
             sorted((d.id, d.content_hash) for d in docs)]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()


def current_generation(index_dir: Path) -> Path | None:
    pointer = Path(index_dir) / _CURRENT
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    return Path(index_dir) / name if name else None


def prepare(docs: list[Document], embedder: Embedder, settings: Settings) -> IndexData:
    """Split, analyze and chunk documents (no embedding yet)."""
    data = IndexData()
    max_tokens = embedder.max_tokens
    for doc in docs:
        analyzer = Analyzer(doc.lang)
        sentences = split_sentences(doc.text)
        if not sentences:
            continue
        texts = [doc.text[s.start:s.end] for s in sentences]
        terms = [analyzer.terms(t) for t in texts]
        title_terms = analyzer.terms(doc.title)
        chunks = chunk_document(
            doc, sentences, max_words=settings.chunk_words, overlap=settings.chunk_overlap,
            sentence_tokens=embedder.count_tokens(texts), max_tokens=max_tokens,
        )
        data.documents.append(doc)
        data.sentences[doc.id] = sentences
        data.sentence_terms[doc.id] = terms
        for chunk in chunks:
            data.chunks.append(chunk)
            data.chunk_terms.append(
                title_terms + [t for s in range(chunk.first, chunk.last + 1) for t in terms[s]]
            )
            data.passages.append(passage_text(doc, chunk))
    return data


def write_index(index_dir: Path, data: IndexData, vectors: np.ndarray,
                meta: dict[str, Any]) -> Path:
    """Write a new generation and make it current atomically; returns its folder.

    The caller holds `writer_lock`, so leftovers of interrupted builds can be removed here."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = Path(tempfile.mkdtemp(prefix=".building-", dir=index_dir))
    try:
        store = Store.create(gen / _STORE)
        for doc in data.documents:
            store.add_document(doc, data.sentences[doc.id], data.sentence_terms[doc.id])
        store.add_chunks(enumerate(data.chunks))
        store.set_meta(meta)
        store.commit()
        store.close()
        ids = np.arange(len(data.chunks), dtype=np.int64)
        DenseIndex.build(vectors, ids).save(gen / _DENSE)
        LexicalIndex.build(data.chunk_terms).save(gen / _LEXICAL)
        final = index_dir / f"gen-{time.time_ns()}"
        _fsync_tree(gen)
        gen.rename(final)
        _switch_current(index_dir, final.name)
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise
    for old in index_dir.iterdir():
        if old.is_dir() and old != final and (old.name.startswith("gen-")
                                              or old.name.startswith(".building-")):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _switch_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".{_CURRENT}.tmp"
    with open(tmp, "w") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / _CURRENT)
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def build_index(settings: Settings, *, rebuild: bool = False, progress: bool = False,
                embedder: Embedder | None = None,
                on_warning: Callable[[str], None] | None = None) -> IndexSummary:
    """Index `settings.corpus_dir` into `settings.index_dir`, unless it is already up to date."""
    started = time.perf_counter()
    report: LoadReport = load_corpus(settings.corpus_dir)
    for warning in report.warnings:
        if on_warning:
            on_warning(warning)
        else:
            log.warning("%s", warning)
    if not report.documents:
        raise CorpusError(
            f"no articles to index in {settings.corpus_dir} "
            f"({report.files} files, {report.skipped} skipped): add .txt, .md, .html or .jsonl files"
        )
    fingerprint = index_fingerprint(settings, report.documents)
    if not rebuild:
        existing = _read_meta(settings.index_dir)
        if existing is not None and existing.get("fingerprint") == fingerprint:
            return IndexSummary(existing["documents"], existing["chunks"], report.warnings,
                                time.perf_counter() - started, up_to_date=True)
    with writer_lock(settings.index_dir):
        path, documents, chunks = _build(settings, report, fingerprint, embedder, progress)
    return IndexSummary(documents, chunks, report.warnings, time.perf_counter() - started,
                        path=path)


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time. The kernel drops the lock when its process dies, so a crashed
    `qabot index` never leaves a stale lock behind."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(
                f"another `qabot index` is writing {index_dir}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(settings: Settings, report: LoadReport, fingerprint: str,
           embedder: Embedder | None, progress: bool) -> tuple[Path, int, int]:
    embedder = embedder or embedder_for(settings)
    data = prepare(report.documents, embedder, settings)
    vectors = embed_passages(embedder, data.passages, progress=progress)
    meta = {
        "format_version": FORMAT_VERSION,
        "model": settings.embedding_model,
        "dimension": int(vectors.shape[1]),
        "passage_prompt": settings.passage_prompt,
        "languages": sorted({d.lang for d in data.documents}),
        "documents": len(data.documents),
        "chunks": len(data.chunks),
        "fingerprint": fingerprint,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = write_index(settings.index_dir, data, vectors, meta)
    return path, len(data.documents), len(data.chunks)


def embedder_for(settings: Settings) -> Embedder:
    return Embedder(settings.embedding_model, device=settings.device,
                    query_prompt=settings.query_prompt, passage_prompt=settings.passage_prompt,
                    batch_size=settings.batch_size)


def embed_passages(embedder: Embedder, passages: list[str], *, progress: bool) -> np.ndarray:
    """Embed in slices so the progress bar moves; each slice is still length-sorted batches."""
    from tqdm import tqdm

    step = embedder.batch_size * 8
    parts: list[np.ndarray] = []
    with tqdm(total=len(passages), unit="chunk", desc="Embedding", disable=not progress,
              leave=False) as bar:
        for i in range(0, len(passages), step):
            parts.append(embedder.encode_passages(passages[i:i + step]))
            bar.update(len(passages[i:i + step]))
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.vstack(parts)


def _read_meta(index_dir: Path) -> dict[str, Any] | None:
    gen = current_generation(index_dir)
    if gen is None or not (gen / _STORE).exists():
        return None
    try:
        store = Store.open(gen / _STORE)
        try:
            return store.meta()
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - an unreadable index is simply not up to date
        return None


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


def _no_index(settings: Settings) -> NoIndexError:
    return NoIndexError(f"no index in {settings.index_dir}: run `qabot index` first to build it")


def read_stats(settings: Settings) -> IndexStats:
    gen = current_generation(settings.index_dir)
    meta = _read_meta(settings.index_dir)
    if gen is None or meta is None:
        raise _no_index(settings)
    return IndexStats.from_meta(meta, gen)


@dataclass
class OpenIndex:
    """A loaded index generation: metadata store, dense and lexical indexes."""

    path: Path
    meta: dict[str, Any]
    store: Store
    dense: DenseIndex
    lexical: LexicalIndex

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.meta.get("languages", ()))


def open_index(settings: Settings) -> OpenIndex:
    """Load the current generation, refusing one built with another model or format."""
    gen = current_generation(settings.index_dir)
    if gen is None:
        raise _no_index(settings)
    if not (gen / _STORE).exists():
        raise IndexCorruptError(
            f"the index in {settings.index_dir} is incomplete ({gen.name} is missing files); "
            "run `qabot index --rebuild`"
        )
    try:
        store = Store.open(gen / _STORE)
        meta = store.meta()
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(
            f"cannot read {gen / _STORE} ({exc}); run `qabot index --rebuild`"
        ) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {settings.index_dir} has format {meta.get('format_version')}, "
            f"this qabot reads format {FORMAT_VERSION}: run `qabot index --rebuild`"
        )
    if meta.get("model") != settings.embedding_model:
        raise IndexMismatchError(
            f"the index was built with model {meta.get('model')!r} "
            f"(dimension {meta.get('dimension')}), but QABOT_EMBEDDING_MODEL is "
            f"{settings.embedding_model!r}: run `qabot index --rebuild`, or set the model back"
        )
    dense = DenseIndex.load(gen / _DENSE)
    if dense.dimension != meta.get("dimension"):
        raise IndexCorruptError(
            f"the dense index has dimension {dense.dimension}, the metadata says "
            f"{meta.get('dimension')}: run `qabot index --rebuild`"
        )
    lexical = LexicalIndex.load(gen / _LEXICAL)
    return OpenIndex(gen, meta, store, dense, lexical)
