"""The qabot API that every front end shares: open an index, ask questions, describe the corpus."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from qabot.config import Settings
from qabot.embedding.encoder import Embedder, embedder_for
from qabot.errors import QabotError
from qabot.index.open import IndexStats, OpenIndex, current_generation, open_index
from qabot.records import Answer, Citation
from qabot.search.abstain import Judge, reference_key
from qabot.search.question import question_language
from qabot.search.quotes import QuoteBuilder, worth_showing
from qabot.search.retrieve import Mode, Retriever

__all__ = ["MAX_PASSAGES", "MAX_QUESTION_CHARS", "Qabot"]

MAX_QUESTION_CHARS = 2000
MAX_PASSAGES = 50  # how deep `k` and paging may reach into one answer

log = logging.getLogger(__name__)


class Qabot:
    """Answers questions with verbatim, cited quotes, from the live index generation: when an
    update publishes a new one, the next question switches to it (no restart)."""

    def __init__(self, settings: Settings, index: OpenIndex, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._reload_lock = threading.Lock()
        self._use(index)

    def _use(self, index: OpenIndex) -> None:
        s = self.settings
        if index.reference.texts_id != reference_key(*s.prompts):
            log.warning("the index's abstention was calibrated with other prompts or texts than "
                        "these: run `qabot index` to recalibrate it (no article is re-embedded)")
        # One assignment, so a question in flight keeps one whole index to the end.
        self._parts = (index, Retriever(index, self.embedder, s.fusion_weights, s.cosine_scale),
                       QuoteBuilder(index, max_chars=s.max_quote_chars,
                                    quote_weight=s.quote_weight, cosine_scale=s.cosine_scale),
                       Judge(index.reference, index.null_gap, s.cosine_scale, s.min_relevance))

    @property
    def index(self) -> OpenIndex:
        return self._parts[0]

    @property
    def retriever(self) -> Retriever:
        return self._parts[1]

    def refresh(self) -> bool:
        """Switch to a newer generation if one was published; True when it did.

        Costs one small file read when nothing changed, so it runs before every question."""
        gen = current_generation(self.settings.index_dir)
        if gen is None or gen == self.index.path:
            return False
        with self._reload_lock:
            if gen == self.index.path:
                return False
            try:
                self._use(open_index(self.settings))
            except QabotError as exc:
                log.warning("keeping the index in use: the new one cannot be read (%s)", exc)
                return False
        log.info("switched to index %s", gen.name)
        return True

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Qabot:
        index = open_index(settings)
        return cls(settings, index, embedder or embedder_for(settings))

    def warm_up(self) -> None:
        """Load the model and run one query so the first real question is fast."""
        self.ask("warm up", k=1)

    def ask(self, question: str, k: int | None = None, mode: Mode = "hybrid",
            offset: int = 0) -> Answer:
        """Quotes that answer `question`, best first. Without `k` or `offset`, up to `top_k`
        passages, less those far weaker than the best (counted in `held_back`); with `k`, the
        best `k` there are, however weak; with `offset`, the `k` (or `top_k`) that follow the
        first `offset` (the REPL's `:more`; the bot's "More" re-ranks deeper and leaves out
        what overlaps what it showed). Unanswered when nothing in the corpus is relevant
        enough."""
        question = " ".join(question.split())
        if not question:
            raise QabotError("the question is empty: type a question about the corpus")
        if len(question) > MAX_QUESTION_CHARS:
            raise QabotError(
                f"the question is {len(question)} characters long; ask in at most "
                f"{MAX_QUESTION_CHARS}"
            )
        if not 0 <= offset < MAX_PASSAGES:
            raise QabotError(f"offset {offset} is out of range: page within the first "
                             f"{MAX_PASSAGES} passages")
        explicit = k is not None or offset > 0
        k = min(k or self.settings.top_k, MAX_PASSAGES - offset)
        self.refresh()
        _, retriever, quotes, judge = self._parts
        query = retriever.parse(question, question_language(question), mode)
        found = retriever.candidates(query, max(50, 10 * (offset + k)), mode)
        answer = quotes.answer(query, found.candidates, offset + k)
        if not answer.passages:
            return answer
        # Without a question vector (lexical mode) there is nothing to judge against: any
        # matching term answers.
        if query.vector is not None and found.best_cosine is not None and not judge.answers(
                query.vector, found.best_cosine, found.candidates[0].lexical,
                answer.passages[0].coverage):
            return Answer(query.text, False, query.lang, [])
        if explicit:
            return replace(answer, passages=answer.passages[offset:])
        shown = worth_showing(answer.passages, self.settings.show_ratio)
        return replace(answer, passages=shown, held_back=len(answer.passages) - len(shown))

    def stats(self) -> IndexStats:
        self.refresh()
        return IndexStats.from_meta(self.index.meta, self.index.path)

    def sources(self) -> list[Citation]:
        self.refresh()
        return self.index.store.citations()


