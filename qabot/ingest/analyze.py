"""Lexical analysis: language detection, and tokens for BM25 (stemming, stopwords, elisions, folding)."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import Stemmer

__all__ = ["ANALYZER_VERSION", "LANGUAGES", "Analyzer", "detect_language", "fold_accents",
           "stems_of", "stopwords", "words"]

# Bump whenever the same text would give other terms (stemming, stopwords, folding, views):
# indexes store sentences' terms and analyze them again.
ANALYZER_VERSION = 1

#: BM25 sees each word two ways: its stem (inflections meet: "recrues" ~ "recrue") and its
#: exact folded form (the precise word scores more than a mere relative). A third view, the
#: first five letters, let English questions reach French text ("recruits" ~ "recrues") with
#: an English-only model; with multilingual-e5 it no longer moved the hybrid figures on PIAF
#: dev (hit@1 0.796 with it, 0.794 without) and made false matches ("commencé" ~ "commerce").
EXACT_MARK = "="


def stems_of(index_terms: list[str] | tuple[str, ...]) -> list[str]:
    """The stems among `Analyzer.index_terms`, without the exact forms."""
    # index_terms lists a stem for each word, then each word's exact form: the first half,
    # when it looks so (this runs for every sentence a quote is chosen from).
    half = len(index_terms) // 2
    if (half and not index_terms[half - 1].startswith(EXACT_MARK)
            and index_terms[half].startswith(EXACT_MARK)
            and index_terms[-1].startswith(EXACT_MARK)):
        return list(index_terms[:half])
    return [t for t in index_terms if not t.startswith(EXACT_MARK)]

# Languages with both a Snowball stemmer (PyStemmer) and a stopword list (bm25s).
LANGUAGES: dict[str, tuple[str, str]] = {
    "fr": ("french", "STOPWORDS_FRENCH"),
    "en": ("english", "STOPWORDS_EN_PLUS"),
    "de": ("german", "STOPWORDS_GERMAN"),
    "es": ("spanish", "STOPWORDS_SPANISH"),
    "it": ("italian", "STOPWORDS_ITALIAN"),
    "pt": ("portuguese", "STOPWORDS_PORTUGUESE"),
    "nl": ("dutch", "STOPWORDS_DUTCH"),
    "sv": ("swedish", "STOPWORDS_SWEDISH"),
    "no": ("norwegian", "STOPWORDS_NORWEGIAN"),
    "da": ("danish", "STOPWORDS_DANISH"),
    "ru": ("russian", "STOPWORDS_RUSSIAN"),
    "tr": ("turkish", "STOPWORDS_TURKISH"),
}

_WORD = re.compile(r"\w+", re.UNICODE)
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'"})
# French elided articles and conjunctions: "l'armée" -> "armée", "jusqu'à" -> "à".
_ELISION_FR = re.compile(
    r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu|quelqu)'(?=\w)", re.IGNORECASE
)
_POSSESSIVE_EN = re.compile(r"(?<=\w)'s\b", re.IGNORECASE)

# Extra French function words missing from bm25s's list (interrogatives matter for questions).
_EXTRA_STOPWORDS = {
    "fr": {"quel", "quelle", "quels", "quelles", "combien", "comment", "pourquoi", "où", "quand",
           "lequel", "laquelle", "lesquels", "lesquelles", "dont", "cela", "ça", "très", "plus",
           "aussi", "être", "avoir", "fait", "faire", "a", "été", "sont", "est", "ont"},
    "en": {"which", "what", "who", "whom", "whose", "when", "where", "why", "how", "did", "does",
           "do", "much", "many"},
}


def fold_accents(text: str) -> str:
    """'Sécurité' -> 'Securite': strip combining marks after NFKD decomposition."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Lower-cased word tokens, elisions and possessives removed (language-neutral)."""
    text = text.translate(_APOSTROPHES)
    text = _ELISION_FR.sub("", text)
    text = _POSSESSIVE_EN.sub("", text)
    return _WORD.findall(text.lower())


@cache
def stopwords(lang: str) -> frozenset[str]:
    """The language's stopwords, both accented and folded."""
    import bm25s.stopwords as sw

    entry = LANGUAGES.get(lang)
    if entry is None:
        return frozenset()
    base = set(getattr(sw, entry[1])) | _EXTRA_STOPWORDS.get(lang, set())
    return frozenset(base | {fold_accents(w) for w in base})


_local = threading.local()


def _stemmer(lang: str) -> Stemmer.Stemmer | None:
    """One stemmer per language and thread: a Snowball stemmer keeps state between calls."""
    stemmers: dict[str, Stemmer.Stemmer | None] = _local.__dict__.setdefault("stemmers", {})
    if lang not in stemmers:
        import Stemmer

        entry = LANGUAGES.get(lang)
        stemmers[lang] = Stemmer.Stemmer(entry[0]) if entry else None
    return stemmers[lang]


def detect_language(text: str, candidates: tuple[str, ...] = tuple(LANGUAGES), default: str = "en") -> str:
    """Cheap detection: the language whose stopwords cover most of the words."""
    tokens = words(text[:5000])
    if not tokens:
        return default
    best, best_hits = default, 0
    for lang in candidates:
        sw = stopwords(lang)
        hits = sum(1 for t in tokens if t in sw)
        if hits > best_hits:
            best, best_hits = lang, hits
    return best


class Analyzer:
    """Turns text into BM25 terms for one language: stopwords out, accents folded, Snowball stems."""

    def __init__(self, lang: str, extra_stopwords: frozenset[str] = frozenset()) -> None:
        self.lang = lang
        self._stop = stopwords(lang) | extra_stopwords
        self._stemmer = _stemmer(lang)

    def terms(self, text: str) -> list[str]:
        """Stems: what sentences are matched on when a quote is chosen."""
        return self._stem(self._words(text))

    def index_terms(self, text: str) -> list[str]:
        """What BM25 indexes and searches: each word's stem and exact form."""
        kept = self._words(text)
        return [*self._stem(kept), *(EXACT_MARK + w for w in kept)]

    def _words(self, text: str) -> list[str]:
        # Fold before stemming: "securite" typed without accents must meet "sécurité".
        return [fold_accents(w) for w in words(text)
                if w not in self._stop and (len(w) > 1 or w.isdigit())]

    def _stem(self, kept: list[str]) -> list[str]:
        return self._stemmer.stemWords(kept) if self._stemmer is not None else kept
