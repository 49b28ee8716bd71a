"""Lexical index: BM25 (bm25s) over analyzed chunk terms, with scores normalized to [0, 1)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qabot.errors import IndexCorruptError

__all__ = ["K1", "LexicalIndex"]

# Tuned on PIAF dev (chunk@1 0.661 -> 0.684 against bm25s's 1.5 / 0.75): chunks are short, so
# their length says little. A term seen once in a chunk of average length scores idf / (1 + K1).
K1 = 1.2
B = 0.5


class LexicalIndex:
    """BM25 (Lucene variant) whose rows are chunk ids 0..n-1."""

    def __init__(self, bm25: object) -> None:
        import bm25s

        assert isinstance(bm25, bm25s.BM25)
        self._bm25 = bm25
        indptr = np.asarray(bm25.scores["indptr"])
        self._df = np.diff(indptr)
        self._n = int(bm25.scores["num_docs"])
        self._vocab: dict[str, int] = bm25.vocab_dict

    @classmethod
    def build(cls, chunk_terms: Sequence[Sequence[str]]) -> LexicalIndex:
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)

        bm25 = bm25s.BM25(method="lucene", k1=K1, b=B)
        bm25.index([list(t) for t in chunk_terms], show_progress=False)
        return cls(bm25)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        try:
            bm25 = bm25s.BM25.load(str(folder), load_corpus=False, mmap=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(
                f"cannot read the lexical index in {folder} ({exc}); run `qabot index --rebuild`"
            ) from None
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder))  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return self._n

    def idf(self, term: str) -> float:
        """Lucene idf; a term absent from the corpus gets the idf of a term seen nowhere."""
        tid = self._vocab.get(term)
        df = int(self._df[tid]) if tid is not None else 0
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def scores(self, terms: Sequence[str], ideal: float) -> np.ndarray:
        """BM25 of every chunk over `ideal`, the score of a chunk of average length holding each
        question term once; clipped to 1."""
        ids = list(dict.fromkeys(self._vocab[t] for t in terms if t in self._vocab and t))
        if not ids or ideal <= 0:
            return np.zeros(self._n, dtype=np.float32)
        raw = np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)  # type: ignore[attr-defined]
        return np.minimum(raw * np.float32((1 + K1) / ideal), np.float32(1.0))

