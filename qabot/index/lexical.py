"""Lexical index: BM25 over analyzed chunk terms, with statistics exact across segments.

Each segment stores its postings (for each term, the chunks holding it and how often) and its
chunks' lengths; nothing that depends on the rest of the corpus. The number of chunks, each
term's document frequency and the average length are counted over all the live chunks of a
generation when it is opened (`LexicalSet`), so a chunk scores exactly as it would in an index
rebuilt from scratch, however the corpus was split into segments and whatever was deleted.

Why not bm25s (which built the index before segments): it bakes idf and the average length
into the scores it stores, so a segment's scores would drift from the corpus's as others are
added. The formula is the same (Lucene's), as are K1 and B.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qabot.errors import IndexCorruptError
from qabot.threads import Split

__all__ = ["K1", "LexicalHits", "LexicalIndex", "LexicalSet"]

# Tuned on PIAF dev (chunk@1 0.661 -> 0.684 against bm25s's 1.5 / 0.75): chunks are short, so
# their length says little. A term seen once in a chunk of average length scores idf / (1 + K1).
K1 = 1.2
B = 0.5
_FILES = ("vocab.json", "indptr.npy", "chunks.npy", "tf.npy", "lengths.npy")


class LexicalIndex:
    """One segment's postings: by term id, the chunks (rows 0..n-1) holding it and how often."""

    def __init__(self, vocab: dict[str, int], indptr: np.ndarray, chunks: np.ndarray,
                 tf: np.ndarray, lengths: np.ndarray) -> None:
        self.vocab = vocab
        self.indptr = indptr
        self.chunks = chunks
        self.tf = tf
        self.lengths = lengths

    @classmethod
    def build(cls, chunk_terms: Sequence[Sequence[str]]) -> LexicalIndex:
        vocab: dict[str, int] = {}
        term_ids: list[int] = []
        lengths = np.zeros(len(chunk_terms), dtype=np.int32)
        for row, terms in enumerate(chunk_terms):
            lengths[row] = len(terms)
            term_ids.extend(vocab.setdefault(t, len(vocab)) for t in terms)
        terms_arr = np.asarray(term_ids, dtype=np.int64)
        rows = np.repeat(np.arange(len(chunk_terms), dtype=np.int64), lengths)
        # One posting per (term, chunk) with its count, sorted by term, then chunk.
        keys, counts = np.unique(terms_arr * max(1, len(chunk_terms)) + rows, return_counts=True)
        posting_terms = keys // max(1, len(chunk_terms))
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.add.at(indptr, posting_terms + 1, 1)
        return cls(vocab, np.cumsum(indptr),
                   (keys % max(1, len(chunk_terms))).astype(np.int32),
                   np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16), lengths)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        try:
            words = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            arrays = [np.load(folder / name, allow_pickle=False) for name in _FILES[1:]]
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"cannot read the lexical index in {folder} ({exc}); run `qabot index --rebuild`"
            ) from None
        indptr, chunks, tf, lengths = arrays
        if (not isinstance(words, list) or len(indptr) != len(words) + 1
                or len(chunks) != len(tf) or int(indptr[-1]) != len(chunks)):
            raise IndexCorruptError(f"the lexical index in {folder} does not hold together; "
                                    "run `qabot index --rebuild`")
        return cls({w: i for i, w in enumerate(words)}, indptr, chunks, tf, lengths)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "vocab.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
        for name, array in zip(_FILES[1:], (self.indptr, self.chunks, self.tf, self.lengths),
                               strict=True):
            np.save(folder / name, array, allow_pickle=False)

    def __len__(self) -> int:
        return len(self.lengths)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(chunk rows, counts) of a term; empty when the segment never saw it."""
        tid = self.vocab.get(term)
        if tid is None:
            return _EMPTY_ROWS, _EMPTY_TF
        a, b = int(self.indptr[tid]), int(self.indptr[tid + 1])
        return self.chunks[a:b], self.tf[a:b]


_EMPTY_ROWS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.uint16)


class LexicalSet:
    """BM25 (Lucene's variant) over the chunks of every segment, numbered one segment after
    the other; `live` (by chunk, or None when all are) leaves deleted chunks out of the scores
    and out of the statistics."""

    def __init__(self, parts: Sequence[LexicalIndex], live: np.ndarray | None = None) -> None:
        self.parts = list(parts)
        self.starts = np.concatenate(([0], np.cumsum([len(p) for p in self.parts]))).astype(
            np.int64)
        self.live = live
        lengths = (np.concatenate([p.lengths for p in self.parts]) if self.parts
                   else np.zeros(0, dtype=np.int32))
        self._n = int(len(lengths) if live is None else live.sum())
        total = float(lengths.sum() if live is None else lengths[live].sum())
        avgdl = total / self._n if self._n else 1.0
        # Each chunk's length term, once per generation: K1 * (1 - B + B * length / average).
        self._norm = (K1 * (1 - B + B * lengths / max(avgdl, 1e-9))).astype(np.float32)
        dead = np.flatnonzero(~live) if live is not None else np.zeros(0, dtype=np.int64)
        # The deleted chunks by segment, as rows of it.
        self._dead_rows = [dead[(dead >= a) & (dead < b)] - a for a, b
                           in zip(self.starts[:-1].tolist(), self.starts[1:].tolist(), strict=True)]
        self._df: dict[str, int] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def df(self, term: str) -> int:
        """Live chunks holding the term, in all segments."""
        found = self._df.get(term)
        if found is None:
            found = 0
            for part, dead in zip(self.parts, self._dead_rows, strict=True):
                rows, _ = part.postings(term)
                found += len(rows) - _shared(rows, dead)
            if len(self._df) > 100_000:
                self._df.clear()
            self._df[term] = found
        return found

    def idf(self, term: str) -> float:
        """Lucene idf; a term absent from the corpus gets the idf of a term seen nowhere."""
        df = self.df(term)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def search(self, terms: Sequence[str], ideal: float, n: int,
               allowed: np.ndarray | None = None) -> LexicalHits:
        """BM25 of every chunk over `ideal`, the score of a chunk of average length holding each
        question term once (clipped to 1): the `n` best chunks holding a term (only where
        `allowed`, by chunk id, is true, when given), and any chunk's score on demand."""
        return self.split(terms, ideal, n, allowed).run()

    def split(self, terms: Sequence[str], ideal: float, n: int,
              allowed: np.ndarray | None = None) -> Split[LexicalHits]:
        """`search`, as a task a segment, for threads to share.

        A segment's task makes one pass over the question terms' postings there, summed by
        chunk; its best are picked among the postings' chunks, not among every chunk (at 3M
        sentences, 165,000 postings for a median question against 914,000 chunks: 5.7-6.0 ms
        -> 4.3-4.6, with no pass over every chunk to scale, clip and find the scored ones).
        Segment by segment, the arrays the postings are read against stay in the core's
        cache (a third of them at 3M: 4.7-5.3 ms -> 3.5-4.3, one thread); smaller parts
        cost more than they saved in sharing the work between threads (blocks of 160,000
        chunks at 3M, the question's searches together: 9.1 ms -> 9.7)."""
        unique = [t for t in dict.fromkeys(terms) if t and self.df(t)]
        if not unique or ideal <= 0 or n <= 0:
            return Split([], lambda _: LexicalHits(_EMPTY_ROWS.astype(np.int64), (),
                                                   self.starts, np.float32(0.0)))
        idfs = [np.float32(self.idf(t)) for t in unique]
        factor = np.float32((1 + K1) / ideal)
        tasks = [functools.partial(self._segment_best, i, unique, idfs, factor, n, allowed)
                 for i in range(len(self.parts))]

        def finish(found: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]
                   ) -> LexicalHits:
            rows = np.concatenate([f[0] for f in found])
            values = np.concatenate([f[1] for f in found])
            # Best first, equal scores (those clipped to 1 among them) oldest chunk first.
            order = np.lexsort((rows, -values))[:n]
            return LexicalHits(rows[order], tuple(f[2] for f in found), self.starts, factor)

        return Split(tasks, finish)

    def _segment_best(self, i: int, terms: list[str], idfs: list[np.float32],
                      factor: np.float32, n: int, allowed: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Segment `i`'s best `n` chunks (ids, scores, in no order) and every chunk's BM25 sum
        there (None when it holds no term)."""
        part, start = self.parts[i], int(self.starts[i])
        rows_list, tf_list, idf_list, sizes = [], [], [], []
        for term, idf_ in zip(terms, idfs, strict=True):
            rows, tf = part.postings(term)
            if len(rows):
                rows_list.append(rows)
                tf_list.append(tf)
                idf_list.append(idf_)
                sizes.append(len(rows))
        if not rows_list:
            return _EMPTY_ROWS.astype(np.int64), np.zeros(0, dtype=np.float32), None
        rows = np.concatenate(rows_list, dtype=np.intp)
        tf = np.concatenate(tf_list, dtype=np.float32)
        idf = np.repeat(np.array(idf_list, dtype=np.float32), sizes)
        # idf * tf / (tf + norm), in float32, with fewer arrays made on the way.
        weights = self._norm[start:start + len(part)][rows]
        weights += tf
        np.divide(idf * tf, weights, out=weights)
        # Summed in float64 in the order of the terms, as np.bincount does.
        sums = np.bincount(rows, weights=weights, minlength=len(part))
        if len(self._dead_rows[i]):
            sums[self._dead_rows[i]] = 0.0
        # Each posting's chunk's score, as `LexicalHits.scores` gives it.
        values = sums[rows].astype(np.float32) * factor
        np.minimum(values, np.float32(1.0), out=values)
        if allowed is not None:
            values[~allowed[start:start + len(part)][rows]] = 0.0
        # A chunk holds at most one posting a term: among the n * terms best postings (ties
        # included) are the n best chunks.
        many = n * len(rows_list)
        if len(values) > many:
            keep = _largest(values, many)
            rows, values = rows[keep], values[keep]
        rows, first = np.unique(rows, return_index=True)
        values = values[first]
        scored = values > 0
        return rows[scored].astype(np.int64) + start, values[scored], sums


@dataclass(frozen=True, slots=True)
class LexicalHits:
    """A question's BM25: its best chunks, best first, and every chunk's score on demand."""

    top: np.ndarray
    _sums: tuple[np.ndarray | None, ...]  # by segment
    _starts: np.ndarray
    _factor: np.float32

    def scores(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The chunks' BM25 over the question's ideal, clipped to 1 (0 for a chunk holding no
        question term, or deleted)."""
        chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        out = np.zeros(len(chunk_ids), dtype=np.float32)
        if not len(chunk_ids) or not any(s is not None for s in self._sums):
            return out
        segment = np.searchsorted(self._starts, chunk_ids, side="right") - 1
        for i, sums in enumerate(self._sums):
            if sums is not None:
                at = np.flatnonzero(segment == i)
                out[at] = sums[chunk_ids[at] - self._starts[i]].astype(np.float32)
        out *= self._factor
        return np.minimum(out, np.float32(1.0), out=out)


def _largest(values: np.ndarray, m: int) -> np.ndarray:
    """Indices of the values at least as large as the `m`-th largest (all of those equal to
    it too, so that the result does not depend on how a partition breaks ties), in no order.
    A threshold read off a sample first leaves a few thousand to partition instead of every
    posting (165,000 for a median question at 3M sentences: 0.34 ms -> 0.09 alone); when
    fewer than `m` pass it, all are partitioned."""
    above = None
    if len(values) > 16 * m:
        stride = len(values) // (8 * m)
        sample = values[::stride]
        # About 2m of the values lie above the sample's 2m/stride-th largest.
        j = min(len(sample), max(1, 2 * m // stride))
        floor = np.partition(sample, len(sample) - j)[len(sample) - j]
        above = np.flatnonzero(values >= floor)
        if len(above) < m:
            above = None
    if above is None:
        above = np.arange(len(values))
    if len(above) > m:
        mth = np.partition(values[above], len(above) - m)[len(above) - m]
        above = above[values[above] >= mth]
    return above


def _shared(a: np.ndarray, b: np.ndarray) -> int:
    """How many values two sorted arrays of distinct values have in common, in the time of
    looking up the shorter one's in the longer (a term's postings and a segment's deletions:
    at 3M sentences with one article deleted, a question's terms in 0.2 ms, against 0.5-0.8
    counting the live among every posting)."""
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return 0
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return int(np.count_nonzero(b[at] == a))
