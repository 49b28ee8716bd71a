"""Question analysis: the language to reply in, the terms to search and weigh, and the kind of
answer the question wants (a number, a date), which quotes are chosen by."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from qabot.ingest.analyze import Analyzer, detect_language, stems_of, stopwords

__all__ = ["ANSWER_TYPE_BONUS", "Query", "analyze_question", "question_language"]

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
    """A question, analyzed: its stems, each with its idf. `lang` is the language qabot replies
    in; `text_lang` the language its words were recognized as, among the corpus's (empty when
    they gave no clue, as in "recrues Bougouni")."""

    text: str
    lang: str
    terms: tuple[str, ...]
    idf: tuple[float, ...]
    #: What BM25 searches (stems and exact forms) and the score of a chunk of average
    #: length holding each of them once, which BM25 scores are measured against.
    search_terms: tuple[str, ...] = ()
    ideal: float = 0.0
    wants: Literal["number", "time"] | None = None
    #: The question's embedding, when the mode uses one.
    vector: np.ndarray | None = field(default=None, compare=False)
    text_lang: str = ""

    #: Each term with its weight (see `weights`), and their sum, worked out once: quotes ask
    #: for the coverage of a few hundred sentences a question.
    _weighted: tuple[tuple[str, float], ...] = field(default=(), init=False, compare=False,
                                                     repr=False)
    _total: float = field(default=0.0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        weights = self.weights
        object.__setattr__(self, "_weighted", tuple(zip(self.terms, weights, strict=True)))
        object.__setattr__(self, "_total", sum(weights))

    @property
    def weights(self) -> tuple[float, ...]:
        """How much each term counts in coverage: idf + 1, since in a small corpus every known
        term looks common, yet every question term still matters."""
        return tuple(1.0 + w for w in self.idf)

    def coverage(self, found: set[str] | frozenset[str]) -> float:
        """Weighted share of the question's terms present in `found`, in [0, 1]."""
        if self._total <= 0:
            return 0.0
        return sum(w for t, w in self._weighted if t in found) / self._total

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


def question_language(question: str) -> str:
    """French or English: the language qabot answers in."""
    return detect_language(question, candidates=("fr", "en"), default="en")


def analyze_question(question: str, reply_lang: str, corpus_langs: tuple[str, ...],
                     idf: Callable[[str], float]) -> Query:
    """Analyze the question once per corpus language, without the stopwords of the language
    it is asked in; `idf` weighs its terms by the corpus (BM25's own idf). No vector yet."""
    extra = stopwords(reply_lang)
    terms: list[str] = []
    search: list[str] = []
    for lang in corpus_langs or (reply_lang,):
        views = Analyzer(lang, extra).index_terms(question)
        terms.extend(stems_of(views))
        search.extend(views)
    stems = tuple(dict.fromkeys(terms))
    search_terms = tuple(dict.fromkeys(search))
    wants: Literal["number", "time"] | None = (
        "number" if _WANTS_NUMBER.search(question)
        else "time" if _WANTS_TIME.search(question) else None)
    text_lang = detect_language(question, tuple(sorted({*corpus_langs, "fr", "en"})), default="")
    return Query(question, reply_lang, stems, tuple(idf(t) for t in stems), search_terms,
                 sum(idf(t) for t in search_terms), wants, None, text_lang)
