"""The small typed records passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Chunk", "Citation", "Document", "Passage", "Sentence"]


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

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answered": self.answered,
            "passages": [p.to_json() for p in self.passages],
            "held_back": self.held_back,
        }

