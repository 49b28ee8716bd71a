"""Metadata store: documents, sentences, chunks and index facts in one SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qabot.ingest.analyze import stems_of
from qabot.records import Chunk, Citation, Document, Sentence

__all__ = ["ChunkSpan", "Store", "StoredChunk", "StoredSentence", "read_only_uri"]

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, path TEXT NOT NULL,
    lang TEXT NOT NULL, content_hash TEXT NOT NULL, date TEXT, url TEXT, source TEXT,
    first_sentence INTEGER NOT NULL  -- dense id of its sentence 0; sentence i is this + i
);
CREATE TABLE sentences (
    doc_id TEXT NOT NULL REFERENCES documents(id), ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, para INTEGER NOT NULL,
    terms TEXT NOT NULL,  -- BM25 terms of the sentence, every view (see analyze)
    PRIMARY KEY (doc_id, ordinal)
) WITHOUT ROWID;
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
"""


@dataclass(frozen=True, slots=True)
class StoredSentence:
    sentence: Sentence
    terms: tuple[str, ...]  # stems: what quotes are chosen by
    search_terms: tuple[str, ...]  # every BM25 view (stems and exact forms)


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    doc_id: str
    first: int  # sentence ordinals within the document
    last: int


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """A chunk's sentences as dense ids (the vectors' keys), and its document's language."""

    chunk_id: int
    first: int
    last: int
    lang: str


class Store:
    """A thin typed layer over the SQLite file; safe to share between threads for reading."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._doc_cache: dict[str, Document] = {}

    @classmethod
    def create(cls, path: Path) -> Store:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.executescript(_SCHEMA)
        return cls(conn)

    @classmethod
    def open(cls, path: Path) -> Store:
        conn = sqlite3.connect(read_only_uri(path), uri=True, check_same_thread=False)
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    # -- writing -------------------------------------------------------------------------
    def set_meta(self, values: dict[str, Any]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def add_document(
        self, doc: Document, sentences: Sequence[Sentence], terms: Sequence[Sequence[str]],
        first_sentence: int,
    ) -> None:
        self._conn.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.id, doc.title, doc.text, doc.path, doc.lang, doc.content_hash, doc.date,
             doc.url, doc.source, first_sentence),
        )
        self._conn.executemany(
            "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?)",
            [(doc.id, s.ordinal, s.start, s.end, s.para, " ".join(t))
             for s, t in zip(sentences, terms, strict=True)],
        )

    def add_chunks(self, chunks: Iterable[tuple[int, Chunk]]) -> None:
        self._conn.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(cid, c.doc_id, c.ordinal, c.first, c.last, c.start, c.end) for cid, c in chunks],
        )

    def commit(self) -> None:
        self._conn.commit()

    # -- reading -------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id, doc_id, first, last FROM chunks WHERE id IN ({marks})",
                [int(i) for i in ids],
            ).fetchall()
        return {r[0]: StoredChunk(*r) for r in rows}

    def sentences(self, doc_id: str, first: int, last: int) -> list[StoredSentence]:
        with self._lock:
            rows = self._conn.execute(
                'SELECT ordinal, start, "end", para, terms FROM sentences '
                "WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
                (doc_id, first, last),
            ).fetchall()
        out = []
        for o, s, e, p, t in rows:
            search = tuple(t.split())
            out.append(StoredSentence(Sentence(o, s, e, p), tuple(stems_of(search)), search))
        return out

    def first_sentence(self, doc_id: str) -> int:
        """The dense id of the document's first sentence."""
        with self._lock:
            return int(self._conn.execute(
                "SELECT first_sentence FROM documents WHERE id = ?", (doc_id,)).fetchone()[0])

    def chunk_spans(self) -> list[ChunkSpan]:
        """Every chunk's sentences as dense ids, by chunk id."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, d.first_sentence + c.first, d.first_sentence + c.last, d.lang "
                "FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY c.id").fetchall()
        return [ChunkSpan(*row) for row in rows]

    def content_hashes(self) -> dict[str, str]:
        """Document id -> content hash: what the next update compares the corpus against."""
        with self._lock:
            return dict(self._conn.execute("SELECT id, content_hash FROM documents").fetchall())

    def document_sentences(self, doc_id: str) -> list[StoredSentence]:
        return self.sentences(doc_id, 0, 1 << 62)

    def document_chunks(self, doc: Document) -> list[Chunk]:
        """A document's chunks, in order (their text cut from `doc`)."""
        with self._lock:
            rows = self._conn.execute(
                'SELECT ordinal, first, last, start, "end" FROM chunks WHERE doc_id = ? '
                "ORDER BY ordinal", (doc.id,)).fetchall()
        return [Chunk(doc.id, ordinal, first, last, start, end, doc.text[start:end])
                for ordinal, first, last, start, end in rows]

    def document(self, doc_id: str) -> Document:
        doc = self._doc_cache.get(doc_id)
        if doc is None:
            with self._lock:
                row = self._conn.execute(
                    "SELECT id, title, text, path, lang, content_hash, date, url, source "
                    "FROM documents WHERE id = ?",
                    (doc_id,),
                ).fetchone()
            doc = Document(*row)
            if len(self._doc_cache) > 256:
                self._doc_cache.clear()
            self._doc_cache[doc_id] = doc
        return doc

    def citations(self) -> list[Citation]:
        """How to cite every document, by title."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT title, date, source, url, path, id FROM documents ORDER BY title, id"
            ).fetchall()
        return [Citation(*row) for row in rows]

    def count(self, table: str) -> int:
        if table not in {"documents", "chunks", "sentences"}:
            raise ValueError(table)
        with self._lock:
            return int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def read_only_uri(path: Path) -> str:
    """A read-only SQLite URI for `path`; quoted, since `#`, `?` and `%` are legal in paths
    and would otherwise end or escape the file name."""
    return f"{Path(path).resolve().as_uri()}?mode=ro"
