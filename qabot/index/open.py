"""The index on disk, read back: metadata store, dense and lexical indexes of the live generation."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qabot.config import Settings
from qabot.errors import IndexCorruptError, IndexMismatchError, NoIndexError
from qabot.index import SearchIndex
from qabot.index.catalog import Catalog, Part
from qabot.index.dense import DenseIndex, DenseSet
from qabot.index.generations import (
    CALIBRATION,
    DENSE,
    FILES,
    FORMAT_VERSION,
    GEN_META,
    LEXICAL,
    STORE,
    STORIES,
    TOMBSTONES,
    current_generation,
    segment_dir,
    verify,
)
from qabot.index.lexical import LexicalIndex, LexicalSet
from qabot.index.store import DocumentFacts, Store
from qabot.records import Citation, Story
from qabot.search.abstain import Reference

__all__ = [
    "UNDATED",
    "CheckReport",
    "DocumentTable",
    "IndexStats",
    "LiveGeneration",
    "OpenIndex",
    "SentenceChunks",
    "check_index",
    "current_generation",
    "day_number",
    "latest_stories",
    "open_for_update",
    "open_generation",
    "open_index",
    "read_latest",
    "read_sources",
    "read_stats",
]

_T = TypeVar("_T")

_EPOCH = date(1970, 1, 1)
#: The day number of an undated article: outside every window (and no real day's number).
UNDATED = -(2**40)


def day_number(day: str | date | None) -> int:
    """Days since 1970-01-01 (`UNDATED` for None), so windows compare as integers."""
    if day is None:
        return UNDATED
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return (day - _EPOCH).days

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
        size = _disk_bytes(path)
        return cls(int(meta["documents"]), int(meta["chunks"]), str(meta["model"]),
                   int(meta["dimension"]), tuple(meta.get("languages", ())), size,
                   str(meta["built_at"]), path)

    @property
    def age_seconds(self) -> float:
        built = datetime.fromisoformat(self.built_at)
        return (datetime.now(UTC) - built).total_seconds()


def _disk_bytes(gen: Path) -> int:
    """The generation's files and its segments'."""
    folders = [gen]
    try:
        manifest = json.loads((gen / "manifest.json").read_text())
        folders += [segment_dir(gen.parent, str(s["name"])) for s in manifest["segments"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())


@dataclass(frozen=True, slots=True)
class SentenceChunks:
    """Which chunks hold which sentences (the units the dense index keys by). Chunk ids and
    sentence ids both run in document order, so both bounds never decrease with the chunk id
    and a binary search finds the chunks of a sentence."""

    first: np.ndarray  # dense id of each chunk's first sentence, by chunk id
    last: np.ndarray
    language: np.ndarray  # by chunk id, an index into `languages`: its document's language
    languages: tuple[str, ...]
    doc: np.ndarray  # by chunk id, its document's row (`DocumentFacts.row`)
    #: `other_language`'s masks, by language: one array over every chunk, asked for by every
    #: question in that language.
    _other: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_table(cls, table: np.ndarray, doc_langs: Sequence[str]) -> SentenceChunks:
        """From `Catalog.chunk_table`: rows (chunk id, first, last, document row) by chunk id,
        and each document's language by row."""
        if not np.array_equal(table[:, 0], np.arange(len(table))):
            raise IndexCorruptError("the chunk table has gaps: run `qabot index --rebuild`")
        doc = table[:, 3].copy()
        if len(doc) and not 0 <= doc.min() <= doc.max() < len(doc_langs):
            raise IndexCorruptError("the chunk table names documents the index lacks: "
                                    "run `qabot index --rebuild`")
        languages = tuple(sorted({doc_langs[d] for d in np.unique(doc).tolist()}))
        codes = {lang: i for i, lang in enumerate(languages)}
        by_doc = np.array([codes.get(lang, 0) for lang in doc_langs], dtype=np.uint8)
        return cls(table[:, 1].copy(), table[:, 2].copy(), by_doc[doc], languages, doc)

    def other_language(self, lang: str) -> np.ndarray:
        """By chunk id: whether the chunk's document is in another language than `lang`
        (read-only: shared by the questions)."""
        mask = self._other.get(lang)
        if mask is None:
            mask = (np.ones(len(self.language), dtype=bool) if lang not in self.languages
                    else np.asarray(self.language != self.languages.index(lang)))
            mask.flags.writeable = False
            self._other[lang] = mask
        return mask

    def sentences_of(self, chunks: np.ndarray, size: int | None = None) -> np.ndarray:
        """By sentence id (`size` of them, else up to the last chunk's last), whether one of
        the chunks marked in `chunks` (a boolean by chunk id) holds it."""
        if size is None:
            size = int(self.last[-1]) + 1 if len(self.last) else 0
        edges = np.zeros(size + 1, dtype=np.int64)
        np.add.at(edges, self.first[chunks], 1)
        np.add.at(edges, self.last[chunks] + 1, -1)
        return np.cumsum(edges[:-1]) > 0

    def chunks_of(self, sentence: int) -> list[int]:
        """Ids of the chunks that hold a sentence (two where chunks overlap)."""
        i = int(np.searchsorted(self.first, sentence, side="right")) - 1
        found = []
        while i >= 0 and self.last[i] >= sentence:
            found.append(i)
            i -= 1
        return found[::-1]


@dataclass(frozen=True, slots=True)
class DocumentTable:
    """The documents as filters read them: by position, the row chunks name them by, the
    publication day (`day_number`), and the row whose chunks hold the text (an exact copy's
    original; else its own)."""

    facts: list[DocumentFacts]
    row: np.ndarray
    day: np.ndarray
    original: np.ndarray

    @classmethod
    def from_facts(cls, facts: list[DocumentFacts]) -> DocumentTable:
        rows = {f.doc_id: f.row for f in facts}
        return cls(facts, np.array([f.row for f in facts], dtype=np.int64),
                   np.array([day_number(f.published) for f in facts], dtype=np.int64),
                   np.array([rows.get(f.duplicate_of or f.doc_id, f.row) for f in facts],
                            dtype=np.int64))


@dataclass
class OpenIndex:
    """A loaded index generation: its segments' metadata, dense and lexical indexes, each
    read as one (deleted documents left out)."""

    path: Path
    meta: dict[str, Any]
    store: Catalog
    dense: DenseSet
    lexical: LexicalSet
    spans: SentenceChunks
    reference: Reference
    documents: DocumentTable
    #: The generation's segments, as its manifest lists them.
    segments: list[dict[str, Any]]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.meta.get("languages", ()))

    @property
    def null_gap(self) -> float:
        return float(self.meta["calibration"]["null_gap"])


@dataclass
class LiveGeneration:
    """The live generation as an update reads it: metadata, which segments and tombstones,
    the calibration; a segment's dense index is loaded only when asked for (a merge copies its
    vectors; a deleted sentence was a calibration probe's closest)."""

    path: Path
    meta: dict[str, Any]
    store: Catalog
    reference: Reference
    segments: list[dict[str, Any]]
    tombstones: dict[str, list[str]]
    aliases: dict[str, str]
    files: dict[str, Any]
    _dense: dict[str, DenseIndex] = field(default_factory=dict)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.meta.get("languages", ()))

    def dense(self, name: str) -> DenseIndex:
        if name not in self._dense:
            self._dense[name] = DenseIndex.load(segment_dir(self.path.parent, name) / DENSE)
        return self._dense[name]

    def vectors(self, doc_id: str, count: int) -> np.ndarray:
        """The exact vectors of a document's `count` sentences."""
        part = self.store.parts[self.store.part_of(doc_id)]
        first = self.store.first_sentence(doc_id) - part.sentence_start
        return self.dense(part.name).vectors(np.arange(first, first + count, dtype=np.int64))


def open_for_update(settings: Settings) -> LiveGeneration | None:
    """The live generation for `qabot index` (sizes checked, as at opening; what a merge copies
    forward is checked to the last byte before it is); None when none was ever published."""

    def read(gen: Path) -> LiveGeneration:
        manifest = verify(gen)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(f"the index has format {manifest.get('format_version')}")
        store, meta = _open_catalog(gen)
        try:
            files = _read_json(gen, FILES) if (gen / FILES).exists() else {}
            return LiveGeneration(gen, meta, store, _reference(gen, meta, int(meta["dimension"])),
                                  list(manifest["segments"]), _read_json(gen, TOMBSTONES),
                                  _read_json(gen, STORIES), files)
        except BaseException:
            store.close()
            raise

    return _read_current(settings, read)


def _no_index(settings: Settings) -> NoIndexError:
    return NoIndexError(f"no index in {settings.index_dir}: run `qabot index` first to build it")


def read_stats(settings: Settings) -> IndexStats:
    """The live generation's figures, from its metadata store alone."""
    return _from_store(settings, lambda store, meta, gen: IndexStats.from_meta(meta, gen))


def read_sources(settings: Settings) -> list[Citation]:
    """The live generation's articles, from its metadata store alone (no FAISS, no model)."""
    return _from_store(settings, lambda store, meta, gen: store.citations())


def read_latest(settings: Settings, n: int, since: str | None = None) -> list[Story]:
    """The `n` newest stories, from the metadata store alone."""
    return _from_store(settings, lambda store, meta, gen: latest_stories(store, n, since))


def latest_stories(store: Catalog, n: int, since: str | None = None) -> list[Story]:
    """The `n` stories with the newest articles (published on `since` or later), newest
    first: each shown by its newest indexed article, the others listed with it."""
    out = []
    for _, members in store.latest_stories(n, since):
        indexed = [m for m in members if not store.is_copy(m.doc_id)] or members
        dated = [m for m in indexed if m.published]
        shown = dated[-1] if dated else indexed[-1]
        out.append(Story(shown, store.first_sentence_text(shown.doc_id),
                         tuple(m for m in members if m.doc_id != shown.doc_id)))
    return out


def _from_store(settings: Settings,
                read: Callable[[Catalog, dict[str, Any], Path], _T]) -> _T:
    def with_store(gen: Path) -> _T:
        store, meta = _open_catalog(gen)
        try:
            return read(store, meta, gen)
        finally:
            store.close()

    found = _read_current(settings, with_store)
    if found is None:
        raise _no_index(settings)
    return found


def _read_current(settings: Settings, read: Callable[[Path], _T]) -> _T | None:
    """`read` of the live generation; None when none was ever published."""
    for _ in range(5):
        gen = current_generation(settings.index_dir)
        if gen is None:
            return None
        try:
            return read(gen)
        except (IndexCorruptError, OSError, sqlite3.DatabaseError):
            if current_generation(settings.index_dir) == gen:
                raise
            # Updates published newer generations while we read this one, and removed it:
            # what is damaged is only our view of it. Read the current one.
    raise IndexCorruptError(f"the index in {settings.index_dir} kept changing while it was "
                            "read; try again once `qabot index` is done")


def _read_json(gen: Path, name: str) -> Any:
    try:
        return json.loads((gen / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexCorruptError(f"cannot read {gen / name}; run `qabot index --rebuild`") from None


def _open_catalog(gen: Path) -> tuple[Catalog, dict[str, Any]]:
    """The generation's segments' metadata stores as one, and its meta; an unreadable file
    gets the fix."""
    manifest = _read_json(gen, "manifest.json")
    meta = _read_json(gen, GEN_META)
    tombstones = _read_json(gen, TOMBSTONES)
    aliases = _read_json(gen, STORIES)
    parts: list[Part] = []
    docs = sentences = chunks = 0
    try:
        for seg in manifest["segments"]:
            name = str(seg["name"])
            path = segment_dir(gen.parent, name) / STORE
            try:
                store = Store.open(path)
                store.document_ids()
            except sqlite3.DatabaseError as exc:
                raise IndexCorruptError(
                    f"cannot read {path} ({exc}); run `qabot index --rebuild`") from None
            parts.append(Part(name, store, docs, sentences, chunks,
                              frozenset(tombstones.get(name, ()))))
            docs += int(seg["documents"])
            sentences += int(seg["sentences"])
            chunks += int(seg["chunks"])
    except (KeyError, TypeError, ValueError, AttributeError):
        for part in parts:
            part.store.close()
        raise IndexCorruptError(f"the manifest of {gen} does not hold together; "
                                "run `qabot index --rebuild`") from None
    except BaseException:
        for part in parts:
            part.store.close()
        raise
    if not (isinstance(aliases, dict) and isinstance(tombstones, dict)
            and all(isinstance(v, list) for v in tombstones.values())
            and isinstance(meta, dict)):
        for part in parts:
            part.store.close()
        raise IndexCorruptError(f"the metadata of {gen} does not hold together; "
                                "run `qabot index --rebuild`")
    return Catalog(parts, {str(k): str(v) for k, v in aliases.items()}), meta


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What `qabot check` found in a sound index."""

    path: Path
    files: int
    size_bytes: int
    documents: int
    sentences: int
    chunks: int


def check_index(settings: Settings) -> CheckReport:
    """Verify the live generation to the last byte: every file's size and SHA-256 against the
    manifest, SQLite's own integrity check, and that the dense and lexical indexes load and
    hold what the store lists. Damage raises IndexCorruptError naming the file and the fix."""

    def check(gen: Path) -> CheckReport:
        manifest = verify(gen, checksums=True)
        store, meta = _open_catalog(gen)
        try:
            result, where = store.integrity()
        finally:
            store.close()
        if result != "ok":
            # SQLite lists every damaged cell, a line each: the first says enough.
            lines = [x.strip() for x in result.splitlines()
                     if x.strip() and "***" not in x] or [result.strip()]
            more = f", and {len(lines) - 1} more" if len(lines) > 1 else ""
            path = segment_dir(gen.parent, where) / STORE if where else gen
            raise IndexCorruptError(f"{path} is damaged (SQLite: {lines[0]}{more}); "
                                    "run `qabot index --rebuild`")
        index = _load(gen, settings)
        index.store.close()
        files = [f for seg in index.segments for f in _segment_files(gen, seg["name"])]
        files += [int(f["size"]) for f in manifest["files"].values()]
        return CheckReport(gen, len(files), sum(files), int(meta["documents"]),
                           int(meta["sentences"]), int(meta["chunks"]))

    found = _read_current(settings, check)
    if found is None:
        raise _no_index(settings)
    return found


def open_index(settings: Settings) -> OpenIndex:
    """Load the live generation, refusing one that is damaged or built with another model."""
    index = open_generation(settings)
    if index is None:
        raise _no_index(settings)
    return index


def open_generation(settings: Settings, *, checksums: bool = False) -> OpenIndex | None:
    """Like `open_index`, but None when no generation was ever published; with `checksums`,
    every file's SHA-256 is checked too (see `verify`)."""
    return _read_current(settings, lambda gen: _load(gen, settings, checksums))


def _segment_files(gen: Path, name: str) -> list[int]:
    """The sizes of a segment's files, as its manifest lists them."""
    manifest = _read_json(segment_dir(gen.parent, name), "manifest.json")
    return [int(f["size"]) for f in manifest["files"].values()]


def _load(gen: Path, settings: Settings, checksums: bool = False) -> OpenIndex:
    manifest = verify(gen, checksums=checksums)
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
    store, meta = _open_catalog(gen)
    try:
        return _load_parts(gen, manifest, meta, store)
    except BaseException:
        store.close()
        raise


def _load_parts(gen: Path, manifest: dict[str, Any], meta: dict[str, Any],
                store: Catalog) -> OpenIndex:
    denses, lexicals = [], []
    for seg in manifest["segments"]:
        folder = segment_dir(gen.parent, seg["name"])
        dense = DenseIndex.load(folder / DENSE)
        lexical = LexicalIndex.load(folder / LEXICAL)
        _check_size(f"dense index of {seg['name']}", dense, int(seg["sentences"]), "sentences")
        _check_size(f"lexical index of {seg['name']}", lexical, int(seg["chunks"]), "chunks")
        if dense.dimension != meta.get("dimension"):
            raise IndexCorruptError(
                f"the dense index of {seg['name']} has dimension {dense.dimension}, the "
                f"metadata says {meta.get('dimension')}: run `qabot index --rebuild`")
        denses.append(dense)
        lexicals.append(lexical)
    spans = SentenceChunks.from_table(*store.chunk_table())
    sentences = sum(int(seg["sentences"]) for seg in manifest["segments"])
    if len(spans.last) and int(spans.last[-1]) + 1 > sentences:
        raise IndexCorruptError("the chunk table names sentences the dense index lacks: "
                                "run `qabot index --rebuild`")
    dead = store.dead_rows()
    live_chunks = live_sentences = None
    if len(dead):
        live_chunks = ~np.isin(spans.doc, dead)
        live_sentences = spans.sentences_of(live_chunks, sentences)
    dense_set = DenseSet(denses, live_sentences)
    return OpenIndex(gen, meta, store, dense_set, LexicalSet(lexicals, live_chunks), spans,
                     _reference(gen, meta, dense_set.dimension),
                     DocumentTable.from_facts(store.documents_facts()),
                     list(manifest["segments"]))


def _check_size(name: str, part: SearchIndex, expected: int, unit: str) -> None:
    """Each search index is keyed 0..n-1 by what the metadata store lists."""
    if len(part) != expected:
        raise IndexCorruptError(
            f"the {name} index holds {len(part)} {unit}, the metadata {expected}: "
            "run `qabot index --rebuild`")


def _reference(gen: Path, meta: dict[str, Any], dimension: int) -> Reference:
    """The calibration vectors abstention reads questions against (see `abstain`)."""
    fix = "run `qabot index --rebuild`"
    try:
        vectors = np.load(gen / CALIBRATION, allow_pickle=False)
        info = meta["calibration"]
        anchors, texts_id = int(info["anchors"]), str(info["texts"])
        float(info["null_gap"])
    except (OSError, ValueError, KeyError, TypeError):
        raise IndexCorruptError(f"cannot read the calibration of {gen}; {fix}") from None
    if vectors.ndim != 2 or vectors.shape[1] != dimension or not 0 < anchors < len(vectors):
        raise IndexCorruptError(f"the calibration of {gen} does not fit its index; {fix}")
    return Reference.unstack(vectors.astype(np.float32), anchors, texts_id)
