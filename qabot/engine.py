"""The qabot API that every front end shares: open an index, ask questions, describe the corpus."""

from __future__ import annotations

from qabot.analyze import detect_language
from qabot.answer import QuoteBuilder
from qabot.config import Settings
from qabot.embed import Embedder
from qabot.errors import QabotError
from qabot.index import IndexStats, OpenIndex, embedder_for, open_index
from qabot.records import Answer, Citation
from qabot.retrieve import Mode, Retriever

__all__ = ["MAX_QUESTION_CHARS", "Qabot", "question_language"]

MAX_QUESTION_CHARS = 2000


def question_language(question: str) -> str:
    """French or English: the language qabot answers in."""
    return detect_language(question, candidates=("fr", "en"), default="en")


class Qabot:
    """Answers questions from one index with verbatim, cited quotes."""

    def __init__(self, settings: Settings, index: OpenIndex, embedder: Embedder) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder, settings.fusion_weights)
        self.quotes = QuoteBuilder(index, max_chars=settings.max_quote_chars,
                                   min_score=settings.min_score,
                                   quote_weight=settings.quote_weight)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Qabot:
        index = open_index(settings)
        return cls(settings, index, embedder or embedder_for(settings))

    def warm_up(self) -> None:
        """Load the model and run one query so the first real question is fast."""
        self.ask("warm up", k=1)

    def ask(self, question: str, k: int | None = None, mode: Mode = "hybrid") -> Answer:
        question = " ".join(question.split())
        if not question:
            raise QabotError("the question is empty: type a question about the corpus")
        if len(question) > MAX_QUESTION_CHARS:
            raise QabotError(
                f"the question is {len(question)} characters long; ask in at most "
                f"{MAX_QUESTION_CHARS}"
            )
        k = k or self.settings.top_k
        query = self.retriever.parse(question, question_language(question))
        candidates = self.retriever.candidates(query, max(50, 10 * k), mode)
        return self.quotes.answer(query, candidates, k)

    def stats(self) -> IndexStats:
        return IndexStats.from_meta(self.index.meta, self.index.path)

    def sources(self) -> list[Citation]:
        return self.index.store.citations()


