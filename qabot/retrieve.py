"""Retrieval: dense and lexical candidates, fused by normalized scores into one ranked list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from qabot.analyze import Analyzer, stems_of, stopwords
from qabot.embed import Embedder
from qabot.errors import IndexMismatchError
from qabot.index import OpenIndex

__all__ = ["MODES", "Candidate", "Mode", "Query", "Retriever"]

Mode = Literal["hybrid", "lexical", "dense", "rrf"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense", "rrf")
_RRF_K = 60
#: Sentences fetched from the dense index per chunk wanted: chunks hold several sentences, and
#: the best sentences often share chunks.
SENTENCE_HITS_PER_CHUNK = 4

# What kind of answer a question wants, from its wording (French and English).
_WANTS_NUMBER = re.compile(
    r"\b(combien|quel(?:le)?s? (?:est|sont|était|étaient) (?:le|la|les) (?:nombre|montant|"
    r"durée|taille|population|prix|coût|âge|distance)|how (?:many|much|long|old|far|big)|"
    r"what (?:number|amount|percentage|share)|à quel âge|pendant combien)\b", re.IGNORECASE)
_WANTS_TIME = re.compile(
    r"\b(quand|depuis quand|en quelle année|en quel siècle|à quelle (?:date|époque)|"
    r"quelle (?:année|date)|when|what (?:year|date|century)|which year|since when)\b",
    re.IGNORECASE)
_NUMBER_STEMS = ("deux", "trois", "quatr", "cinq", "six", "sept", "huit", "neuf", "dix", "onz",
                 "douz", "vingt", "trent", "quarant", "cinquant", "soixant", "cent", "mill",
                 "milliard", "two", "three", "four", "five", "seven", "eight", "nine", "ten",
                 "twelv", "twenti", "hundr", "thousand", "billion", "pourcent", "percent")
_MONTH_STEMS = ("janvi", "fevri", "avril", "juin", "juillet", "aout", "septembr", "octobr",
                "novembr", "decembr", "januari", "februari", "april", "june", "juli", "august",
                "septemb", "octob", "novemb", "decemb", "siecl", "centuri")
_YEAR = re.compile(r"^(1[0-9]|20)[0-9]{2}$")
#: Added to a sentence's coverage when it holds the kind of answer the question wants.
ANSWER_TYPE_BONUS = 0.25


@dataclass(frozen=True, slots=True)
class Query:
    """A question, analyzed: each term group is a question term and the known terms that may
    stand for it, with the idf of the question term."""

    text: str
    lang: str
    groups: tuple[tuple[str, ...], ...]
    idf: tuple[float, ...]
    #: What BM25 searches (stems, exact forms, prefixes) and the score of a chunk of average
    #: length holding each of them once, which BM25 scores are measured against.
    search_terms: tuple[str, ...] = ()
    ideal: float = 0.0
    wants: Literal["number", "time"] | None = None
    #: The question's embedding, when the mode uses one.
    vector: np.ndarray | None = field(default=None, compare=False)

    @property
    def weights(self) -> tuple[float, ...]:
        """How much each group counts in coverage: idf + 1, since in a small corpus every known
        term looks common, yet every question term still matters."""
        return tuple(1.0 + w for w in self.idf)

    def coverage(self, found: set[str]) -> float:
        """Weighted share of the question's terms present in `found`, in [0, 1]."""
        total = sum(self.weights)
        if total <= 0:
            return 0.0
        return sum(w for g, w in zip(self.groups, self.weights, strict=True)
                   if any(t in found for t in g)) / total

    def sentence_score(self, terms: set[str]) -> float:
        """Coverage, plus a bonus when the sentence holds a number or a date the question
        asks for ("Combien de recrues…" -> the sentence with "900")."""
        if self.wants == "number":
            holds = any(t.isdigit() or t.startswith(_NUMBER_STEMS) for t in terms)
        elif self.wants == "time":
            holds = any(_YEAR.match(t) or t.startswith(_MONTH_STEMS) for t in terms)
        else:
            holds = False
        return self.coverage(terms) + (ANSWER_TYPE_BONUS if holds else 0.0)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A chunk with its scores: cosine similarity, normalized BM25, and the fused score."""

    chunk_id: int
    dense: float
    lexical: float
    score: float


class Retriever:
    """Scores chunks for a question. Both parts are absolute scores in [0, 1] (clipped cosine,
    BM25 over the query's ideal BM25), so their weighted sum is comparable across questions and
    can be held against a fixed minimum score."""

    def __init__(self, index: OpenIndex, embedder: Embedder,
                 weights: tuple[float, float]) -> None:
        self.index = index
        self.embedder = embedder
        self.dense_weight, self.lexical_weight = weights
        self._checked_dimension = False

    def parse(self, question: str, question_lang: str, mode: Mode = "hybrid") -> Query:
        """Analyze the question once per corpus language, without the question's own stopwords,
        and embed it unless the mode is lexical."""
        extra = stopwords(question_lang)
        terms: list[str] = []
        search: list[str] = []
        for lang in self.index.languages or (question_lang,):
            views = Analyzer(lang, extra).index_terms(question)
            terms.extend(stems_of(views))
            search.extend(views)
        lexical = self.index.lexical
        groups = tuple((t, *lexical.expand(t)) for t in dict.fromkeys(terms))
        idf = tuple(lexical.idf(g[0]) for g in groups)
        # Known stand-ins for unknown stems count in BM25 as well: they are how an English
        # question reaches a French corpus ("recruit" -> "recru").
        search_terms = tuple(dict.fromkeys([*search, *(t for g in groups for t in g[1:])]))
        wants: Literal["number", "time"] | None = (
            "number" if _WANTS_NUMBER.search(question)
            else "time" if _WANTS_TIME.search(question) else None)
        vector = self.embed_question(question) if mode != "lexical" else None
        return Query(question, question_lang, groups, idf, search_terms,
                     sum(lexical.idf(t) for t in search_terms), wants, vector)

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

    def candidates(self, query: Query, n: int, mode: Mode = "hybrid") -> list[Candidate]:
        """The best `n` chunks, best first."""
        use_dense = mode != "lexical"
        use_lexical = mode != "dense"
        pool: dict[int, None] = {}
        dense_rank: dict[int, int] = {}
        lexical_rank: dict[int, int] = {}
        dense_scores: dict[int, float] = {}
        vector = None
        if use_dense:
            vector = query.vector if query.vector is not None else self.embed_question(query.text)
        spans = self.index.spans
        if vector is not None:
            # The dense index holds sentences: a chunk is as close as its closest sentence.
            ids, sims = self.index.dense.search(vector, SENTENCE_HITS_PER_CHUNK * n)
            for sid, sim in zip(ids.tolist(), sims.tolist(), strict=True):
                for cid in spans.chunks_of(sid):
                    if cid not in dense_scores:
                        dense_scores[cid] = sim
                        dense_rank[cid] = len(dense_rank)
                        pool[cid] = None
                if len(dense_rank) >= n:
                    break
        lexical = self.index.lexical.scores(query.search_terms, query.ideal) if use_lexical else None
        if lexical is not None and len(lexical):
            top = _top(lexical, n)
            for rank, cid in enumerate(top.tolist()):
                pool[cid] = None
                lexical_rank[cid] = rank
        missing = np.array([c for c in pool if c not in dense_scores], dtype=np.int64)
        if vector is not None and len(missing):
            starts, ends = spans.first[missing], spans.last[missing] + 1
            sids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
            sims_all = self.index.dense.similarity(vector, sids)
            offsets = np.concatenate(([0], np.cumsum(ends - starts)[:-1]))
            for cid, sim in zip(missing.tolist(), np.maximum.reduceat(sims_all, offsets).tolist(),
                                strict=True):
                dense_scores[cid] = sim
        ids = np.fromiter(pool, dtype=np.int64, count=len(pool))
        out: list[Candidate] = []
        for cid in ids.tolist():
            d = max(0.0, dense_scores.get(cid, 0.0)) if use_dense else 0.0
            lex = float(lexical[cid]) if lexical is not None else 0.0
            if mode == "dense":
                score = d
            elif mode == "lexical":
                score = lex
            elif mode == "rrf":
                score = sum(1.0 / (_RRF_K + r[cid] + 1) for r in (dense_rank, lexical_rank)
                            if cid in r)
            else:
                score = self.dense_weight * d + self.lexical_weight * lex
            out.append(Candidate(cid, d, lex, score))
        out.sort(key=lambda c: (-c.score, c.chunk_id))
        return out[:n]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest positive scores, best first."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > n:
        part = np.argpartition(-scores[positive], n - 1)[:n]
        positive = positive[part]
    return positive[np.argsort(-scores[positive], kind="stable")]
