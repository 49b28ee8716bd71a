"""Metadata store: one segment's documents, sentences and chunks in one SQLite file."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qabot.ingest.analyze import stems_of
from qabot.records import Chunk, Citation, Document, Sentence

__all__ = ["DocumentFacts", "Store", "StoredChunk", "StoredSentence", "StoryFacts",
           "read_only_uri"]

_CITATION = "title, date, source, url, path, id, published, story"

_SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, path TEXT NOT NULL,
    lang TEXT NOT NULL, content_hash TEXT NOT NULL, date TEXT, url TEXT, source TEXT,
    first_sentence INTEGER NOT NULL,  -- dense id of its sentence 0; sentence i is this + i
    published TEXT,  -- YYYY-MM-DD
    story TEXT NOT NULL,  -- near-duplicate group (see ingest/duplicates)
    duplicate_of TEXT,  -- an exact copy of this document: it has no sentences of its own
    body_key TEXT NOT NULL,
    signature BLOB NOT NULL  -- MinHash values, little-endian uint64
);
CREATE INDEX documents_story ON documents(story);
CREATE INDEX documents_first ON documents(first_sentence);
CREATE INDEX documents_body ON documents(body_key);
CREATE TABLE bands (band INTEGER NOT NULL, key BLOB NOT NULL, doc_id TEXT NOT NULL);
CREATE INDEX bands_key ON bands(band, key);
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


#: Chunks `Store.quote_sentences` answers in one query: three parameters each, far below the
#: 32,766 of a stock SQLite (a question reads 15 to 150).
_WINDOWS_A_QUERY = 1_000
# (the keyword came with SQLite 3.35; an older one plans the query as it likes)
_MATERIALIZED = "MATERIALIZED" if sqlite3.sqlite_version_info >= (3, 35) else ""


class StoredSentence:
    """A stored sentence and its terms, parsed when first asked for: a question reads the
    sentences around 15 chunks, and scores few of them."""

    __slots__ = ("_raw", "_search", "_terms", "sentence")

    def __init__(self, sentence: Sentence, raw_terms: str) -> None:
        self.sentence = sentence
        self._raw = raw_terms
        self._search: tuple[str, ...] | None = None
        self._terms: tuple[str, ...] | None = None

    @property
    def search_terms(self) -> tuple[str, ...]:
        """Every BM25 view (stems and exact forms)."""
        if self._search is None:
            self._search = tuple(self._raw.split())
        return self._search

    @property
    def terms(self) -> tuple[str, ...]:
        """The stems: what quotes are chosen by."""
        if self._terms is None:
            self._terms = tuple(stems_of(self.search_terms))
        return self._terms


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    doc_id: str
    first: int  # sentence ordinals within the document
    last: int
    start: int  # character offsets within the document's text
    end: int


@dataclass(frozen=True, slots=True)
class StoryFacts:
    """What grouping decided for a stored document (reused as is while it is unchanged)."""

    story: str
    duplicate_of: str | None
    signature: np.ndarray


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """A document's row number (as `chunk_table` gives it), and what filters read."""

    row: int
    doc_id: str
    source: str | None
    url: str | None
    duplicate_of: str | None
    published: str | None


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
    def add_document(
        self, doc: Document, sentences: Sequence[Sentence], terms: Sequence[Sequence[str]],
        first_sentence: int, story: StoryFacts, band_keys: Sequence[bytes],
    ) -> None:
        self._conn.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.id, doc.title, doc.text, doc.path, doc.lang, doc.content_hash, doc.date,
             doc.url, doc.source, first_sentence, doc.published, story.story,
             story.duplicate_of, doc.body_key, np.asarray(story.signature, "<u8").tobytes()),
        )
        self._conn.executemany("INSERT INTO bands VALUES (?, ?, ?)",
                               [(band, key, doc.id) for band, key in enumerate(band_keys)])
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
    def document_ids(self) -> list[str]:
        """Every document's id, by row (rowid 1, 2, ...)."""
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT id FROM documents ORDER BY rowid").fetchall()]

    def members(self, stories: Sequence[str]) -> list[tuple[int, Citation]]:
        """(rowid, citation) of the documents of these stories."""
        marks = ",".join("?" * len(stories))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT rowid, {_CITATION} FROM documents WHERE story IN ({marks})",
                list(stories)).fetchall()
        return [(row[0], Citation(*row[1:])) for row in rows]

    def story_rows(self) -> list[tuple[int, str, str, str | None]]:
        """(rowid, id, story, published) of every document: what the digest groups."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute(  # type: ignore[misc]
                "SELECT rowid, id, story, published FROM documents ORDER BY rowid").fetchall()]

    def doc_at(self, row: int) -> str | None:
        """The document whose sentences hold dense row `row` (copies hold none: where one
        shares its `first_sentence` with the next document, the later row is the one)."""
        with self._lock:
            found = self._conn.execute(
                "SELECT id FROM documents WHERE first_sentence <= ? "
                "ORDER BY first_sentence DESC, rowid DESC LIMIT 1", (row,)).fetchone()
        return None if found is None else str(found[0])

    def sentence_count(self, doc_ids: Iterable[str]) -> int:
        """Sentences of these documents."""
        return self._count_of("sentences", doc_ids)

    def chunk_count(self, exclude: Iterable[str] = ()) -> int:
        """Chunks, less those of the documents in `exclude`."""
        with self._lock:
            total = int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        return total - self._count_of("chunks", exclude)

    def _count_of(self, table: str, doc_ids: Iterable[str]) -> int:
        ids = list(doc_ids)
        total = 0
        with self._lock:
            for at in range(0, len(ids), 500):  # SQLite's bound on variables
                part = ids[at:at + 500]
                total += int(self._conn.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE doc_id IN ({','.join('?' * len(part))})",
                    part).fetchone()[0])
        return total

    def live_sentences(self, dead: Iterable[str]) -> np.ndarray:
        """By sentence (the segment's dense rows), whether its document is not in `dead`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT d.id, d.first_sentence, COUNT(s.ordinal) FROM documents d "
                "LEFT JOIN sentences s ON s.doc_id = d.id GROUP BY d.id").fetchall()
        size = max((first + n for _, first, n in rows), default=0)
        live = np.ones(size, dtype=bool)
        dead = set(dead)
        for doc_id, first, n in rows:
            if doc_id in dead:
                live[first:first + n] = False
        return live

    def sentences(self, doc_id: str, first: int, last: int) -> list[StoredSentence]:
        with self._lock:
            rows = self._conn.execute(
                'SELECT ordinal, start, "end", para, terms FROM sentences '
                "WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
                (doc_id, first, last),
            ).fetchall()
        return [StoredSentence(Sentence(o, s, e, p), t) for o, s, e, p, t in rows]

    def quote_sentences(self, chunk_ids: Sequence[int], sentences: int, chars: int
                        ) -> dict[int, tuple[StoredChunk, list[StoredSentence]]]:
        """For each chunk (by id; those not stored left out), the chunk and the sentences a
        quote of it may hold: in the chunk's paragraphs (a quote stays in the paragraph of its
        best sentence, one of the chunk's), at most `sentences` before or after the chunk,
        less those wholly more than `chars` characters before it or after it, but for the
        last one before and the first one after (a quote's neighbours: whether they exist,
        and their paragraph). One query for all the chunks (a question reads 15)."""
        chunk_ids = list(dict.fromkeys(int(c) for c in chunk_ids))
        if len(chunk_ids) > _WINDOWS_A_QUERY:  # (SQLite's bound on a query's parameters)
            return {cid: found for at in range(0, len(chunk_ids), _WINDOWS_A_QUERY)
                    for cid, found in self.quote_sentences(
                        chunk_ids[at:at + _WINDOWS_A_QUERY], sentences, chars).items()}
        if not chunk_ids:
            return {}
        values = ",".join(["(?,?,?)"] * len(chunk_ids))
        params = [v for cid in chunk_ids for v in (cid, sentences, chars)]
        with self._lock:
            # Each chunk's bounds worked out once (MATERIALIZED), not for every sentence the
            # join meets: 0.62 -> 0.43 ms a question at 3M sentences.
            rows = self._conn.execute(
                f"WITH w(chunk, near, chars) AS (VALUES {values}), "
                f"b AS {_MATERIALIZED} (SELECT c.id, c.doc_id AS doc, c.first, c.last, "
                '  c.start, c."end", '
                "  IFNULL((SELECT MAX(ordinal) FROM sentences WHERE doc_id = c.doc_id "
                "          AND ordinal BETWEEN c.first - w.near AND c.last + w.near "
                "          AND start < c.start - w.chars), c.first - w.near) AS lo, "
                "  IFNULL((SELECT MIN(ordinal) FROM sentences WHERE doc_id = c.doc_id "
                "          AND ordinal BETWEEN c.first - w.near AND c.last + w.near "
                '          AND "end" > c."end" + w.chars), c.last + w.near) AS hi, '
                "  (SELECT para FROM sentences WHERE doc_id = c.doc_id AND ordinal = c.first) "
                "    AS plo, "
                "  (SELECT para FROM sentences WHERE doc_id = c.doc_id AND ordinal = c.last) "
                "    AS phi "
                "  FROM w JOIN chunks c ON c.id = w.chunk) "
                'SELECT b.id, b.doc, b.first, b.last, b.start, b."end", '
                '  s.ordinal, s.start, s."end", s.para, s.terms FROM b '
                "JOIN sentences s ON s.doc_id = b.doc AND s.ordinal BETWEEN b.lo AND b.hi "
                "AND s.para BETWEEN b.plo AND b.phi ORDER BY b.id, s.ordinal",
                params,
            ).fetchall()
        out: dict[int, tuple[StoredChunk, list[StoredSentence]]] = {}
        for cid, doc, first, last, start, end, o, st, e, p, t in rows:
            found = out.get(cid)
            if found is None:
                found = out[cid] = (StoredChunk(cid, doc, first, last, start, end), [])
            found[1].append(StoredSentence(Sentence(o, st, e, p), t))
        return out

    def first_sentence(self, doc_id: str) -> int:
        """The dense id of the document's first sentence."""
        with self._lock:
            return int(self._conn.execute(
                "SELECT first_sentence FROM documents WHERE id = ?", (doc_id,)).fetchone()[0])

    def chunk_table(self) -> tuple[np.ndarray, list[str]]:
        """Every chunk, by chunk id, as a row (chunk id, dense id of its first sentence, of its
        last, its document's row), and every document's language, by row (rowid 1 first).
        Arrays, not objects: a large index has hundreds of thousands of chunks to open."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, d.first_sentence + c.first, d.first_sentence + c.last, d.rowid "
                "FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY c.id").fetchall()
            langs = [r[0] for r in self._conn.execute(
                "SELECT lang FROM documents ORDER BY rowid").fetchall()]
        return np.array(rows, dtype=np.int64).reshape(-1, 4), langs

    def documents_facts(self, row_offset: int = 0) -> list[DocumentFacts]:
        """Every document's facts, its `row` its rowid plus `row_offset`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT rowid + ?, id, source, url, duplicate_of, published FROM documents "
                "ORDER BY rowid", (row_offset,)
            ).fetchall()
        return [DocumentFacts(*row) for row in rows]

    def story_facts(self, ids: Sequence[str] | None = None) -> dict[str, StoryFacts]:
        """Document id -> its story, the document it copies, its signature: of every document,
        or of those in `ids`."""
        select = "SELECT id, story, duplicate_of, signature FROM documents"
        with self._lock:
            rows = self._select_ids(select, ids)
        return {i: StoryFacts(story, dup, np.frombuffer(sig, dtype="<u8"))
                for i, story, dup, sig in rows}

    def _select_ids(self, select: str, ids: Sequence[str] | None,
                    where: str = "id") -> list[Any]:
        """`select` of every row, or of those whose `where` is in `ids` (in slices: SQLite
        bounds the variables of a statement). The caller holds the lock."""
        if ids is None:
            return self._conn.execute(select).fetchall()
        rows: list[Any] = []
        joiner = " AND " if " WHERE " in select else " WHERE "
        for at in range(0, len(ids), 500):
            part = list(ids[at:at + 500])
            rows += self._conn.execute(
                f"{select}{joiner}{where} IN ({','.join('?' * len(part))})", part).fetchall()
        return rows

    def body_keys(self, ids: Sequence[str]) -> set[str]:
        """The body keys (exact text) of these documents."""
        with self._lock:
            return {r[0] for r in self._select_ids("SELECT body_key FROM documents", ids)}

    def copies_with(self, body_keys: Sequence[str]) -> dict[str, str]:
        """The exact copies among the documents with these body keys: copy -> its original.
        (A copy has its original's text: the body index finds them without a scan.)"""
        with self._lock:
            return dict(self._select_ids("SELECT id, duplicate_of FROM documents "
                                         "WHERE duplicate_of IS NOT NULL", body_keys,
                                         where="body_key"))

    def band_members(self, band: int, key: bytes) -> list[str]:
        """Documents with this band key: candidates for one story."""
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT doc_id FROM bands WHERE band = ? AND key = ?", (band, key)).fetchall()]

    def same_body(self, body_key: str) -> list[str]:
        """Indexed documents (not copies) with exactly this text."""
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT id FROM documents WHERE body_key = ? AND duplicate_of IS NULL "
                "ORDER BY rowid", (body_key,)).fetchall()]

    def is_copy(self, doc_id: str) -> bool:
        """Whether the document is an exact copy of another (indexed once, as the other)."""
        with self._lock:
            row = self._conn.execute("SELECT duplicate_of FROM documents WHERE id = ?",
                                     (doc_id,)).fetchone()
        return row is not None and row[0] is not None

    def first_sentence_text(self, doc_id: str) -> str:
        """The document's first sentence, as written."""
        doc = self.document(doc_id)
        with self._lock:
            row = self._conn.execute(
                'SELECT start, "end" FROM sentences WHERE doc_id = ? ORDER BY ordinal LIMIT 1',
                (doc_id,)).fetchone()
        return doc.text[row[0]:row[1]] if row else doc.text.split("\n", 1)[0]

    def content_hashes(self, ids: Sequence[str] | None = None) -> dict[str, str]:
        """Document id -> content hash, of every document or of those in `ids`: what an update
        compares the articles it read against."""
        with self._lock:
            return dict(self._select_ids("SELECT id, content_hash FROM documents", ids))

    def language_counts(self, ids: Sequence[str] | None = None) -> dict[str, int]:
        """Documents by language: all, or those in `ids`."""
        with self._lock:
            rows = self._select_ids("SELECT lang FROM documents", ids)
        counts: dict[str, int] = {}
        for (lang,) in rows:
            counts[lang] = counts.get(lang, 0) + 1
        return counts

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
                    "SELECT id, title, text, path, lang, content_hash, date, url, source, "
                    "published FROM documents WHERE id = ?",
                    (doc_id,),
                ).fetchone()
            doc = Document(*row)
            if len(self._doc_cache) > 256:
                self._doc_cache.clear()
            self._doc_cache[doc_id] = doc
        return doc

    def citation(self, doc_id: str) -> Citation:
        with self._lock:
            row = self._conn.execute(f"SELECT {_CITATION} FROM documents WHERE id = ?",
                                     (doc_id,)).fetchone()
        return Citation(*row)

    def citations(self) -> list[Citation]:
        """How to cite every document, by title."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_CITATION} FROM documents ORDER BY title, id").fetchall()
        return [Citation(*row) for row in rows]

    def integrity(self) -> str:
        """SQLite's own check of the file: "ok", or what is wrong."""
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def read_only_uri(path: Path) -> str:
    """A read-only SQLite URI for `path`; quoted, since `#`, `?` and `%` are legal in paths
    and would otherwise end or escape the file name."""
    return f"{Path(path).resolve().as_uri()}?mode=ro"
