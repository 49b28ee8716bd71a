"""Retrieval: dense and lexical candidates, fused by normalized scores into one ranked list."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from qabot.embedding.encoder import Embedder
from qabot.errors import IndexMismatchError
from qabot.index.dense import SEARCH_POOL
from qabot.index.lexical import LexicalHits
from qabot.index.open import OpenIndex
from qabot.search.question import Query, analyze_question

__all__ = ["MODES", "Candidate", "Mode", "Retrieval", "Retriever", "on_scale"]

Mode = Literal["hybrid", "lexical", "dense", "rrf"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense", "rrf")
_RRF_K = 60
#: Sentences fetched from the dense index per chunk wanted, at first: chunks overlap, so a
#: sentence often brings two (on PIAF questions over a million sentences, 34 to 46 sentences
#: gave the 50 chunks wanted). When they are not enough, a second search fetches
#: SENTENCE_HITS_PER_CHUNK per chunk (chunks hold several sentences, and the best sentences
#: often share chunks). Every sentence fetched is re-scored from its exact vector: fetching
#: four per chunk at once read 300 rows from disk a question, where 90 do.
FIRST_SENTENCE_HITS_PER_CHUNK = 1
SENTENCE_HITS_PER_CHUNK = 4

#: The dense part's weight for a chunk in another language than the question's: there BM25
#: meets only names and numbers, and the meaning is all there is to go by (on the English
#: questions about the shipped French article in the tests: expected sentence first in 0.85 of
#: them with the same-language weights, 0.88 with this).
CROSS_LANGUAGE_DENSE_WEIGHT = 0.8
@dataclass(frozen=True, slots=True)
class Candidate:
    """A chunk with its scores: the cosine of its closest sentence on the model's scale (0 to
    1), normalized BM25, and the fused score."""

    chunk_id: int
    dense: float
    lexical: float
    score: float


@dataclass(frozen=True, slots=True)
class Retrieval:
    """The best chunks, best first, and the question's best cosine with any sentence (None
    when the mode does not embed the question)."""

    candidates: list[Candidate]
    best_cosine: float | None


class Retriever:
    """Scores chunks for a question. Both parts are absolute scores in [0, 1] (the cosine on
    the model's scale, BM25 over the query's ideal BM25), so their weighted sum means the same
    from one question to the next."""

    def __init__(self, index: OpenIndex, embedder: Embedder, weights: tuple[float, float],
                 cosine_scale: tuple[float, float]) -> None:
        self.index = index
        self.embedder = embedder
        self.dense_weight, self.lexical_weight = weights
        self.cosine_scale = cosine_scale
        self._checked_dimension = False

    def parse(self, question: str, question_lang: str, mode: Mode = "hybrid") -> Query:
        """The question analyzed for this index, and embedded unless the mode is lexical. BM25
        is scored by `candidates`, with the dense search (the two share both cores): not
        beside the embedding, which it made slower (the model computes on both cores and
        waits at each layer for the slower one; bench/scale.py, a question's p50 over bare
        embedding, beside / after: 100k 1.39-1.50 / 1.31-1.37, 1M 1.52-1.94 / 1.48-1.49, 3M
        1.81-2.05 / 1.72-1.84), nor beside an embedding on one core (29.5-41 ms, against
        24.7-29.8 on two)."""
        query = analyze_question(question, question_lang, self.index.languages,
                                 self.index.lexical.idf)
        vector = self.embed_question(question) if mode != "lexical" else None
        return replace(query, vector=vector)

    def embed_question(self, question: str) -> np.ndarray:
        vector = self.embedder.encode_query(question)
        if not self._checked_dimension:
            if vector.shape[0] != self.index.dense.dimension:
                raise IndexMismatchError(
                    f"the model gives vectors of dimension {vector.shape[0]}, the index holds "
                    f"dimension {self.index.dense.dimension}: run `qabot index --rebuild`"
                )
            self._checked_dimension = True
        return vector

    def candidates(self, query: Query, n: int, mode: Mode = "hybrid",
                   allowed: np.ndarray | None = None) -> Retrieval:
        """The best `n` chunks, best first; only chunks where `allowed` (by chunk id) is true,
        when given (see `filters`)."""
        use_dense = mode != "lexical"
        use_lexical = mode != "dense"
        pool: dict[int, None] = {}
        dense_rank: dict[int, int] = {}
        lexical_rank: dict[int, int] = {}
        dense_scores: dict[int, float] = {}
        vector = None
        if use_dense:
            vector = query.vector if query.vector is not None else self.embed_question(query.text)
        bm25 = (self.index.lexical.split(query.search_terms, query.ideal, n, allowed)
                if use_lexical else None)
        lexical: LexicalHits | None = None
        spans = self.index.spans
        if vector is not None:
            # The dense index holds sentences: a chunk is as close as its closest sentence.
            sentences = None if allowed is None else spans.sentences_of(allowed)
            for per_chunk in (FIRST_SENTENCE_HITS_PER_CHUNK, SENTENCE_HITS_PER_CHUNK):
                dense = self.index.dense.split(vector, per_chunk * n, sentences)
                # BM25's segments and the vectors' searched by this thread and the search
                # thread together (both leave Python's lock for most of their work; the model
                # is done by now).
                if bm25 is not None and lexical is None:
                    (ids, sims), lexical = SEARCH_POOL.run(dense, bm25)
                else:
                    ids, sims = SEARCH_POOL.run(dense)[0]
                dense_scores.clear()
                dense_rank.clear()
                pool.clear()
                for sid, sim in zip(ids.tolist(), sims.tolist(), strict=True):
                    for cid in spans.chunks_of(sid):
                        if cid not in dense_scores and (allowed is None or allowed[cid]):
                            dense_scores[cid] = sim
                            dense_rank[cid] = len(dense_rank)
                            pool[cid] = None
                    if len(dense_rank) >= n:
                        break
                if len(dense_rank) >= n or len(ids) < per_chunk * n:
                    break  # enough chunks, or every allowed sentence was fetched
        if bm25 is not None and lexical is None:  # (no dense search to run beside)
            lexical = SEARCH_POOL.run(bm25)[0]
        if lexical is not None:
            for rank, cid in enumerate(lexical.top.tolist()):
                pool[cid] = None
                lexical_rank[cid] = rank
        missing = np.array([c for c in pool if c not in dense_scores], dtype=np.int64)
        if vector is not None and len(missing):
            starts = spans.first[missing]
            sizes = spans.last[missing] + 1 - starts
            offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
            # Each chunk's sentences, one chunk after the other.
            sids = np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()))
            sims_all = self.index.dense.similarity(vector, sids)
            for cid, sim in zip(missing.tolist(), np.maximum.reduceat(sims_all, offsets).tolist(),
                                strict=True):
                dense_scores[cid] = sim
        # The top of an approximate search may miss; the exact cosines fetched since may beat it.
        best = max(dense_scores.values()) if dense_scores else None
        ids = np.fromiter(pool, dtype=np.int64, count=len(pool))
        lex = (lexical.scores(ids).astype(np.float64) if lexical is not None
               else np.zeros(len(ids)))
        # (float64 arrays: the same numbers, to the bit, as the same sums of Python floats,
        # chunk by chunk)
        d = np.zeros(len(ids))
        if use_dense:
            d = on_scale(np.fromiter((dense_scores[c] for c in ids.tolist()), dtype=np.float64,
                                     count=len(ids)), self.cosine_scale)
        if mode == "dense":
            score = d
        elif mode == "lexical":
            score = lex
        elif mode == "rrf":
            score = np.array([sum(1.0 / (_RRF_K + r[c] + 1) for r in (dense_rank, lexical_rank)
                                  if c in r) for c in ids.tolist()])
        else:
            score = self.dense_weight * d + self.lexical_weight * lex
            # Another language than the question's, when its words said which one it is.
            if query.text_lang:
                other = spans.other_language(query.text_lang)[ids]
                score[other] = (CROSS_LANGUAGE_DENSE_WEIGHT * d[other]
                                + (1 - CROSS_LANGUAGE_DENSE_WEIGHT) * lex[other])
        top = np.lexsort((ids, -score))[:n]
        return Retrieval([Candidate(*c) for c in zip(ids[top].tolist(), d[top].tolist(),
                                                     lex[top].tolist(), score[top].tolist(),
                                                     strict=True)], best)


def on_scale(cosines: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Cosines on the model's own scale (floor, ceiling), mapped to [0, 1], in float64."""
    low, high = scale
    return np.clip((cosines.astype(np.float64) - low) / (high - low), 0.0, 1.0)
