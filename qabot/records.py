"""The small typed records passed between pipeline stages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qabot.timeframe import Window

__all__ = ["Answer", "Chunk", "Citation", "Document", "Passage", "Sentence", "Story"]


@dataclass(frozen=True, slots=True)
class Document:
    """One article: its body text and metadata. Offsets elsewhere index into `text`."""

    id: str
    title: str
    text: str
    path: str
    lang: str
    content_hash: str
    date: str | None = None
    url: str | None = None
    source: str | None = None
    published: str | None = None  # `date` read as a day, YYYY-MM-DD; None when undated

    @property
    def body_key(self) -> str:
        """Equal for two documents with the same text however spaced: exact duplicates."""
        return hashlib.sha256(" ".join(self.text.split()).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a document: `text[start:end]`, in paragraph `para`."""

    ordinal: int
    start: int
    end: int
    para: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive sentences `first..last` (inclusive) of one document: the unit BM25 scores and
    quotes are cut from."""

    doc_id: str
    ordinal: int
    first: int
    last: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a quote comes from."""

    title: str
    date: str | None
    source: str | None
    url: str | None
    path: str
    doc_id: str
    published: str | None = None  # YYYY-MM-DD
    story: str | None = None  # the near-duplicate group the article belongs to

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "date": self.date, "source": self.source, "url": self.url}


@dataclass(frozen=True, slots=True)
class Passage:
    """A verbatim quote of consecutive sentences of one paragraph, with the best-answering
    sentence marked."""

    quote: str
    highlight: str
    citation: Citation
    score: float
    start: int
    end: int
    highlight_at: int = 0  # where `highlight` starts inside `quote`
    coverage: float = 0.0  # idf-weighted share of the question's terms the quote holds
    #: The story's other articles (other outlets, copies), oldest first.
    also: tuple[Citation, ...] = ()
    #: The story's first article, when this quote comes from a later one that adds to it.
    update_of: Citation | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.citation
        return {
            "quote": self.quote,
            "highlight": self.highlight,
            "title": c.title,
            "date": c.date,
            "source": c.source,
            "url": c.url,
            "path": c.path,
            "score": round(self.score, 4),
            "also_reported_by": [a.to_json() for a in self.also],
            "update_of": self.update_of.to_json() if self.update_of else None,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """What qabot says to a question: passages, or `answered=False` when nothing is good enough."""

    question: str
    answered: bool
    lang: str
    passages: list[Passage] = field(default_factory=list)
    #: Passages that scored far below the best and were held back (shown on request).
    held_back: int = 0
    #: The publication window searched (from the question's words and the filters), if any.
    window: Window | None = None
    #: The `--source` filter, if any.
    source: str | None = None
    #: Nothing inside the window (or source) answered: these passages come from outside it.
    outside_window: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answered": self.answered,
            "passages": [{**p.to_json(), "outside_window": self.outside_window}
                         for p in self.passages],
            "held_back": self.held_back,
            "window": self.window.to_json() if self.window else None,
            "source": self.source,
            "outside_window": self.outside_window,
        }


@dataclass(frozen=True, slots=True)
class Story:
    """One story of the digest: the article shown (the newest that was indexed), its first
    sentence, and the story's other articles, oldest first."""

    citation: Citation
    first_sentence: str
    also: tuple[Citation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self.citation.to_json(), "published": self.citation.published,
                "first_sentence": self.first_sentence,
                "also_reported_by": [a.to_json() for a in self.also]}

