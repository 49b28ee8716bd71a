"""The metadata of a generation's segments read as one store: deleted documents left out,
rows, sentences and chunks numbered one segment after the other, and stories by their
current names (a story that a later article folded into another is renamed in the
generation, not in the segment that stored it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from qabot.index.store import (
    DocumentFacts,
    Store,
    StoredChunk,
    StoredSentence,
    StoryFacts,
)
from qabot.records import Chunk, Citation, Document

__all__ = ["Catalog", "Part"]


@dataclass(frozen=True, slots=True)
class Part:
    """A segment's store, where its rows, sentences and chunks start in the generation, and
    its deleted documents."""

    name: str
    store: Store
    doc_start: int
    sentence_start: int
    chunk_start: int
    dead: frozenset[str]


class Catalog:
    """What `Store` answers, across segments. Safe to share between threads for reading."""

    def __init__(self, parts: Sequence[Part], aliases: dict[str, str]) -> None:
        self.parts = list(parts)
        self._aliases = dict(aliases)
        self._names: dict[str, list[str]] = {}  # current story name -> every name it had
        for old in self._aliases:
            self._names.setdefault(self.story(old), []).append(old)
        self._home: dict[str, int] = {}  # live document id -> its part
        for i, part in enumerate(self.parts):
            for doc_id in part.store.document_ids():
                if doc_id not in part.dead:
                    self._home[doc_id] = i
        self._chunk_starts = np.array([p.chunk_start for p in self.parts], dtype=np.int64)

    def close(self) -> None:
        for part in self.parts:
            part.store.close()

    def story(self, name: str) -> str:
        """A story's current name."""
        seen = 0
        while name in self._aliases and seen < 1000:
            name, seen = self._aliases[name], seen + 1
        return name

    def _cite(self, c: Citation) -> Citation:
        return replace(c, story=self.story(c.story)) if c.story in self._aliases else c

    def part_of(self, doc_id: str) -> int:
        """The position of the segment holding a live document."""
        return self._home[doc_id]

    def doc_at(self, part: int, row: int) -> str | None:
        """The document holding a segment's sentence `row`."""
        return self.parts[part].store.doc_at(row)

    def _part(self, doc_id: str) -> Part:
        try:
            return self.parts[self._home[doc_id]]
        except KeyError:
            raise KeyError(f"no document {doc_id!r} in the index") from None

    # -- what questions read ---------------------------------------------------------------
    def quote_sentences(self, ids: Sequence[int], sentences: int, chars: int
                        ) -> dict[int, tuple[StoredChunk, list[StoredSentence]]]:
        """`Store.quote_sentences`, one query a segment."""
        return {part.chunk_start + cid: (replace(chunk, id=part.chunk_start + cid), found)
                for part, local in self._chunks_by_part(ids)
                for cid, (chunk, found) in part.store.quote_sentences(local, sentences,
                                                                      chars).items()}

    def _chunks_by_part(self, ids: Sequence[int]) -> list[tuple[Part, list[int]]]:
        """The chunks grouped by the segment holding them, as its own ids."""
        if not len(ids):
            return []
        ids_arr = np.asarray(ids, dtype=np.int64)
        which = np.searchsorted(self._chunk_starts, ids_arr, side="right") - 1
        return [(self.parts[p], (ids_arr[which == p] - self.parts[p].chunk_start).tolist())
                for p in np.unique(which).tolist()]

    def document(self, doc_id: str) -> Document:
        return self._part(doc_id).store.document(doc_id)

    def citation(self, doc_id: str) -> Citation:
        return self._cite(self._part(doc_id).store.citation(doc_id))

    def story_members(self, story: str) -> list[Citation]:
        """The story's articles, oldest first (undated ones last)."""
        names = [story, *self._names.get(story, ())]
        found = []
        for part in self.parts:
            for rowid, c in part.store.members(names):
                if c.doc_id not in part.dead:
                    found.append((c.published is None, c.published or "", part.doc_start + rowid,
                                  self._cite(c)))
        found.sort(key=lambda f: f[:3])
        return [f[3] for f in found]

    def latest_stories(self, n: int, since: str | None) -> list[tuple[str, list[Citation]]]:
        """The `n` stories with the newest articles, newest first, each with its articles
        (oldest first); undated stories after the dated ones, unless `since` excludes them."""
        newest: dict[str, tuple[str | None, int]] = {}  # story -> (newest day, newest row)
        for part in self.parts:
            for rowid, doc_id, story, published in part.store.story_rows():
                if doc_id in part.dead:
                    continue
                story = self.story(story)
                day, row = newest.get(story, (None, -1))
                if published is not None and (day is None or published > day):
                    day = published
                newest[story] = (day, max(row, part.doc_start + rowid))
        ranked = sorted(((s, d, r) for s, (d, r) in newest.items()
                         if since is None or (d is not None and d >= since)),
                        key=lambda x: (x[1] is None, _desc(x[1] or ""), -x[2]))
        return [(s, self.story_members(s)) for s, _, _ in ranked[:n]]

    def is_copy(self, doc_id: str) -> bool:
        return self._part(doc_id).store.is_copy(doc_id)

    def first_sentence_text(self, doc_id: str) -> str:
        return self._part(doc_id).store.first_sentence_text(doc_id)

    def citations(self) -> list[Citation]:
        """How to cite every document, by title."""
        out = [self._cite(c) for part in self.parts for c in part.store.citations()
               if c.doc_id not in part.dead]
        out.sort(key=lambda c: (c.title, c.doc_id))
        return out

    # -- what opening and the writer read -----------------------------------------------------
    def chunk_table(self) -> tuple[np.ndarray, list[str]]:
        """`Store.chunk_table` of every segment (deleted documents' chunks too: ids stay in
        place), numbered through the segments; documents' rows start at 0."""
        tables, langs = [np.zeros((0, 4), dtype=np.int64)], []
        for p in self.parts:
            table, part_langs = p.store.chunk_table()
            tables.append(table + np.array([p.chunk_start, p.sentence_start, p.sentence_start,
                                            p.doc_start - 1], dtype=np.int64))
            langs.extend(part_langs)
        return np.concatenate(tables), langs

    def documents_facts(self) -> list[DocumentFacts]:
        """The live documents, `row` numbered through the segments (as `chunk_table`'s)."""
        return [f for p in self.parts for f in p.store.documents_facts(p.doc_start - 1)
                if f.doc_id not in p.dead]

    def dead_rows(self) -> np.ndarray:
        """Rows (as `chunk_table`'s) of the deleted documents."""
        rows = [p.doc_start + i for p in self.parts
                for i, doc_id in enumerate(p.store.document_ids()) if doc_id in p.dead]
        return np.array(rows, dtype=np.int64)

    def first_sentence(self, doc_id: str) -> int:
        """The generation-wide id of the document's first sentence."""
        part = self._part(doc_id)
        return part.sentence_start + part.store.first_sentence(doc_id)

    def document_sentences(self, doc_id: str) -> list[StoredSentence]:
        return self._part(doc_id).store.document_sentences(doc_id)

    def document_chunks(self, doc: Document) -> list[Chunk]:
        return self._part(doc.id).store.document_chunks(doc)

    def live_ids(self) -> set[str]:
        """Every live document's id."""
        return set(self._home)

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """The content hash of each live document in `ids`."""
        return {i: h for p, part_ids in self._by_part(ids)
                for i, h in p.store.content_hashes(part_ids).items()}

    def story_facts(self, ids: Sequence[str] | None = None) -> dict[str, StoryFacts]:
        """Every live document's story facts (stories by their current names), or those of
        the live documents in `ids`."""
        chosen = ([(p, None) for p in self.parts] if ids is None else self._by_part(ids))
        return {i: replace(f, story=self.story(f.story))
                for p, part_ids in chosen for i, f in p.store.story_facts(part_ids).items()
                if i not in p.dead}

    def copies_of(self, originals: Sequence[str]) -> dict[str, str]:
        """The live exact copies of these documents (live or not): copy -> original. A copy
        added by a later update sits in another segment than its original."""
        keys = sorted(set().union(*(p.store.body_keys(originals) for p in self.parts)))
        wanted = set(originals)
        return {i: o for p in self.parts for i, o in p.store.copies_with(keys).items()
                if o in wanted and i not in p.dead}

    def _by_part(self, ids: Sequence[str]) -> list[tuple[Part, list[str]]]:
        """The live documents among `ids`, by the segment holding them."""
        groups: dict[int, list[str]] = {}
        for i in ids:
            if i in self._home:
                groups.setdefault(self._home[i], []).append(i)
        return [(self.parts[k], v) for k, v in sorted(groups.items())]

    def band_members(self, band: int, key: bytes) -> list[str]:
        return [i for p in self.parts for i in p.store.band_members(band, key)
                if i not in p.dead]

    def same_body(self, body_key: str) -> list[str]:
        return [i for p in self.parts for i in p.store.same_body(body_key) if i not in p.dead]

    def home(self, doc_id: str) -> str:
        """The name of the segment that holds a live document."""
        return self._part(doc_id).name

    def integrity(self) -> tuple[str, str]:
        """SQLite's own check of each segment's file: ("ok", "") or (what is wrong, where)."""
        for part in self.parts:
            try:
                result = part.store.integrity()
            except sqlite3.DatabaseError as exc:
                result = str(exc)
            if result != "ok":
                return result, part.name
        return "ok", ""


def _desc(day: str) -> str:
    """A key that sorts ISO days newest first."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in day)
