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
import importlib
import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qabot.errors import IndexCorruptError
from qabot.threads import Split

__all__ = ["K1", "LexicalHits", "LexicalIndex", "LexicalSet"]

log = logging.getLogger(__name__)

# Tuned on PIAF dev (chunk@1 0.661 -> 0.684 against bm25s's 1.5 / 0.75): chunks are short, so
# their length says little. A term seen once in a chunk of average length scores idf / (1 + K1).
K1 = 1.2
B = 0.5
#: Segments of this many chunks or more are scored by a compiled pass over the postings
#: (`_kernels`, numba: at 3M sentences, 2.2 ms a question against 3.4 for numpy's passes, one
#: thread); smaller ones by numpy, which costs nothing to load (numba takes 0.7 s to import
#: and read its compiled code, once a process). Both give the same scores, to the bit.
COMPILED_FROM = 50_000
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
        # (the compiled pass reads and writes where the postings point, unchecked)
        if (not isinstance(words, list) or len(indptr) != len(words) + 1
                or len(chunks) != len(tf) or int(indptr[0]) != 0
                or int(indptr[-1]) != len(chunks) or bool((np.diff(indptr) < 0).any())
                or (len(chunks) and not 0 <= int(chunks.min()) <= int(chunks.max())
                    < len(lengths))):
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
        chunk (compiled in a large segment, `COMPILED_FROM`); its best are picked among the
        chunks the postings touched, not among every chunk. Segment by segment, the arrays the
        postings are read against stay in the core's cache (at 3M sentences, numpy: 4.7-5.3
        ms -> 3.5-4.3, one thread); smaller parts cost more than they saved in sharing the
        work between threads (blocks of 160,000 chunks at 3M: 9.1 ms -> 9.7 for the
        question's searches together). A chunk's score is computed again from the postings
        when asked for (`LexicalHits.scores`): nothing of the size of the corpus is kept."""
        unique = [t for t in dict.fromkeys(terms) if t and self.df(t)]
        factor = np.float32((1 + K1) / ideal) if ideal > 0 else np.float32(0.0)
        if not unique or ideal <= 0 or n <= 0:
            return Split([], lambda _: LexicalHits(_EMPTY_ROWS.astype(np.int64), self, (),
                                                   _EMPTY_IDF, factor))
        idfs = np.array([self.idf(t) for t in unique], dtype=np.float32)
        # By segment, the terms it holds (ids there) and their idf.
        held = []
        for part in self.parts:
            ids = [part.vocab.get(t, -1) for t in unique]
            held.append(np.array(ids, dtype=np.int64))
        tasks = [functools.partial(self._segment_best, i, held[i], idfs, factor, n, allowed)
                 for i in range(len(self.parts))]

        def finish(found: list[tuple[np.ndarray, np.ndarray]]) -> LexicalHits:
            rows = np.concatenate([f[0] for f in found])
            values = np.concatenate([f[1] for f in found])
            # Best first, equal scores (those clipped to 1 among them) oldest chunk first.
            order = np.lexsort((rows, -values))[:n]
            return LexicalHits(rows[order], self, tuple(held), idfs, factor)

        return Split(tasks, finish)

    def _segment_best(self, i: int, term_ids: np.ndarray, idfs: np.ndarray,
                      factor: np.float32, n: int, allowed: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Segment `i`'s best `n` chunks (ids, scores, in no order, ties with the `n`-th
        included)."""
        part, start = self.parts[i], int(self.starts[i])
        end = start + len(part)
        kernels = _compiled(len(part))
        if kernels is not None:
            scratch, touched = _scratch(len(part))
            try:
                rows, values = kernels.segment_scores(
                    part.indptr, part.chunks, part.tf, self._norm[start:end], term_ids, idfs,
                    factor, _NO_MASK if self.live is None else self.live[start:end],
                    _NO_MASK if allowed is None else allowed[start:end], scratch, touched, n)
            except BaseException:
                _local.scratch = None  # (it may hold sums: never reused)
                raise
        else:
            rows, values = self._segment_scores(i, term_ids, idfs, factor, allowed)
            if len(values) > n:
                keep = _largest(values, n)
                rows, values = rows[keep], values[keep]
        return rows.astype(np.int64) + start, values

    def _segment_scores(self, i: int, term_ids: np.ndarray, idfs: np.ndarray,
                        factor: np.float32, allowed: np.ndarray | None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Every chunk `_kernels.segment_scores` would score, in numpy (rows in order): one
        `np.bincount` of the postings' weights by chunk."""
        part, start = self.parts[i], int(self.starts[i])
        held = [(int(t), idf) for t, idf in zip(term_ids.tolist(), idfs, strict=True) if t >= 0]
        if not held:
            return _EMPTY_ROWS, np.zeros(0, dtype=np.float32)
        spans = [(int(part.indptr[t]), int(part.indptr[t + 1])) for t, _ in held]
        rows = np.concatenate([part.chunks[a:b] for a, b in spans], dtype=np.intp)
        tf = np.concatenate([part.tf[a:b] for a, b in spans], dtype=np.float32)
        idf = np.repeat(np.array([x for _, x in held], dtype=np.float32),
                        [b - a for a, b in spans])
        # idf * tf / (tf + norm), in float32, with fewer arrays made on the way.
        weights = self._norm[start:start + len(part)][rows]
        weights += tf
        np.divide(idf * tf, weights, out=weights)
        # Summed in float64 in the order of the terms.
        sums = np.bincount(rows, weights=weights, minlength=len(part))
        if len(self._dead_rows[i]):
            sums[self._dead_rows[i]] = 0.0
        if allowed is not None:
            sums[~allowed[start:start + len(part)]] = 0.0
        touched = np.flatnonzero(sums)
        values = sums[touched].astype(np.float32) * factor
        np.minimum(values, np.float32(1.0), out=values)
        scored = values > 0
        return touched[scored].astype(np.int32), values[scored]

    def chunk_scores(self, chunk_ids: np.ndarray, term_ids: Sequence[np.ndarray],
                     idfs: np.ndarray, factor: np.float32) -> np.ndarray:
        """The chunks' BM25 over the question's ideal, clipped to 1 (0 for a chunk holding no
        question term, or deleted): each chunk looked up in each term's postings, which are
        sorted by chunk (fusion asks for a few dozen)."""
        chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        out = np.zeros(len(chunk_ids), dtype=np.float32)
        if len(chunk_ids) and not 0 <= int(chunk_ids.min()) <= int(chunk_ids.max()) < len(self):
            raise IndexError("chunk id out of range")  # (the compiled pass does not check)
        if not len(chunk_ids) or not len(term_ids):
            return out
        segment = np.searchsorted(self.starts, chunk_ids, side="right") - 1
        for i, (part, ids) in enumerate(zip(self.parts, term_ids, strict=True)):
            at = np.flatnonzero(segment == i)
            if not len(at):
                continue
            start = int(self.starts[i])
            rows = chunk_ids[at] - start
            kernels = _compiled(len(part))
            if kernels is not None:
                sums = kernels.chunk_sums(part.indptr, part.chunks, part.tf,
                                          self._norm[start:start + len(part)], ids, idfs,
                                          rows.astype(np.int32))
            else:
                sums = _chunk_sums(part, self._norm[start + rows], ids, idfs, rows)
            out[at] = sums.astype(np.float32)
        if self.live is not None:
            out[~self.live[chunk_ids]] = 0.0
        out *= factor
        return np.minimum(out, np.float32(1.0), out=out)

    def prepare(self) -> None:
        """Import and compile (or read from numba's cache) the compiled passes, when a segment
        is large enough to use them, so that the first question does not wait for them (0.7
        s)."""
        kernels = _compiled(max((len(p) for p in self.parts), default=0))
        if kernels is not None:
            postings = (np.zeros(2, dtype=np.int64), _EMPTY_ROWS, _EMPTY_TF,
                        np.ones(1, dtype=np.float32), np.zeros(1, dtype=np.int64),
                        np.ones(1, dtype=np.float32))
            kernels.segment_scores(*postings, np.float32(1.0), _NO_MASK, _NO_MASK,
                                   *_scratch(1), 1)
            kernels.chunk_sums(*postings, _EMPTY_ROWS)


@dataclass(frozen=True, slots=True)
class LexicalHits:
    """A question's BM25: its best chunks, best first, and any chunk's score on demand."""

    top: np.ndarray
    _lexical: LexicalSet
    _term_ids: tuple[np.ndarray, ...]  # by segment, the question's terms' ids there (-1: none)
    _idfs: np.ndarray
    _factor: np.float32

    def scores(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The chunks' BM25 over the question's ideal, clipped to 1 (0 for a chunk holding no
        question term, or deleted)."""
        return self._lexical.chunk_scores(chunk_ids, self._term_ids, self._idfs, self._factor)


_EMPTY_IDF = np.zeros(0, dtype=np.float32)
_NO_MASK = np.zeros(0, dtype=np.bool_)
_local = threading.local()


def _scratch(size: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's zeroed sums by chunk and list of touched chunks, at least `size` long
    (the kernels leave the sums zeroed)."""
    held = getattr(_local, "scratch", None)
    if held is None or len(held[0]) < size:
        held = (np.zeros(size, dtype=np.float64), np.zeros(size, dtype=np.int32))
        _local.scratch = held
    return held


def _compiled(chunks: int) -> Any | None:
    """The compiled passes, for a segment of `chunks` chunks large enough to use them."""
    return _kernels() if chunks >= COMPILED_FROM else None


@functools.cache
def _kernels() -> Any | None:
    """`_kernels`, imported on first use (numba takes 0.7 s to import and to read the compiled
    code from its cache); None, once, with a warning, when numba cannot load it (it needs a
    writable folder for that cache: the package's, or the user's cache folder), and numpy's
    passes, which give the same scores, serve."""
    try:
        return importlib.import_module("qabot.index._kernels")
    except Exception as exc:  # noqa: BLE001 - numba's errors share no narrower base
        log.warning("BM25 runs without its compiled pass, more slowly: %s",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None


def _chunk_sums(part: LexicalIndex, norm: np.ndarray, term_ids: np.ndarray, idfs: np.ndarray,
                rows: np.ndarray) -> np.ndarray:
    """`_kernels.chunk_sums` in numpy (`norm`: the rows' own), a term at a time."""
    # Summed in float64 in the order of the terms, as a search's pass sums them.
    sums = np.zeros(len(rows))
    for term, idf in zip(term_ids.tolist(), idfs, strict=True):
        if term < 0:
            continue
        a, b = int(part.indptr[term]), int(part.indptr[term + 1])
        found = np.minimum(np.searchsorted(part.chunks[a:b], rows), b - a - 1)
        hit = part.chunks[a:b][found] == rows
        tf = part.tf[a:b][found[hit]].astype(np.float32)
        sums[hit] += (idf * tf) / (tf + norm[hit])
    return sums


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
