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

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qabot.errors import IndexCorruptError

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
        self._dead = np.flatnonzero(~live) if live is not None else None
        self._df: dict[str, int] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def df(self, term: str) -> int:
        """Live chunks holding the term, in all segments."""
        found = self._df.get(term)
        if found is None:
            found = 0
            for part, start in zip(self.parts, self.starts[:-1], strict=False):
                rows, _ = part.postings(term)
                found += (len(rows) if self.live is None
                          else int(np.count_nonzero(self.live[rows + start])))
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
        `allowed`, by chunk id, is true, when given), and any chunk's score on demand.

        One pass over the question terms' postings, summed by chunk; the best are picked among
        the postings' chunks, not among every chunk (at 3M sentences, 165,000 postings for a
        median question against 914,000 chunks: 5.7-6.0 ms -> 4.3-4.6, with no pass over
        every chunk to scale, clip and find the scored ones)."""
        unique = [t for t in dict.fromkeys(terms) if t and self.df(t)]
        if not unique or ideal <= 0 or n <= 0:
            return LexicalHits(_EMPTY_ROWS.astype(np.int64), None, np.float32(0.0))
        rows_list, tf_list, idf_list, sizes = [], [], [], []
        for term in unique:
            weight = self.idf(term)
            for part, start in zip(self.parts, self.starts[:-1], strict=False):
                rows, tf = part.postings(term)
                if len(rows):
                    rows_list.append(rows.astype(np.int64) + start)
                    tf_list.append(tf)
                    idf_list.append(weight)
                    sizes.append(len(rows))
        rows = np.concatenate(rows_list)
        tf = np.concatenate(tf_list).astype(np.float32)
        idf = np.repeat(np.array(idf_list, dtype=np.float32), sizes)
        # Summed in float64 in the order of the terms, as np.bincount does.
        sums = np.bincount(rows, weights=idf * tf / (tf + self._norm[rows]), minlength=len(self))
        if self._dead is not None:
            sums[self._dead] = 0.0
        factor = np.float32((1 + K1) / ideal)
        # Each posting's chunk's score, as `LexicalHits.scores` gives it.
        values = sums[rows].astype(np.float32) * factor
        np.minimum(values, np.float32(1.0), out=values)
        if allowed is not None:
            values[~allowed[rows]] = 0.0
        # A chunk holds at most one posting a term: among the n * terms best postings (ties
        # included) are the n best chunks.
        many = n * len(unique)
        if len(values) > many:
            keep = _largest(values, many)
            rows, values = rows[keep], values[keep]
        rows, first = np.unique(rows, return_index=True)
        values = values[first]
        rows, values = rows[values > 0], values[values > 0]
        # Best first, equal scores (those clipped to 1 among them) oldest chunk first.
        order = np.lexsort((rows, -values))[:n]
        return LexicalHits(rows[order], sums, factor)


@dataclass(frozen=True, slots=True)
class LexicalHits:
    """A question's BM25: its best chunks, best first, and every chunk's score on demand."""

    top: np.ndarray
    _sums: np.ndarray | None
    _factor: np.float32

    def scores(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The chunks' BM25 over the question's ideal, clipped to 1 (0 for a chunk holding no
        question term, or deleted)."""
        if self._sums is None:
            return np.zeros(len(chunk_ids), dtype=np.float32)
        out = self._sums[chunk_ids].astype(np.float32) * self._factor
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
