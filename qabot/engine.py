"""The qabot API that every front end shares: open an index, ask questions, describe the corpus."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import numpy as np

from qabot.config import Settings
from qabot.embedding.encoder import Embedder, embedder_for
from qabot.errors import QabotError, QuestionError
from qabot.index.open import (
    IndexStats,
    OpenIndex,
    current_generation,
    latest_stories,
    open_index,
)
from qabot.records import Answer, Citation, Story
from qabot.search.abstain import Judge, reference_key
from qabot.search.filters import Filters, admits, allowed_chunks
from qabot.search.question import question_language
from qabot.search.quotes import QuoteBuilder, worth_showing
from qabot.search.recency import by_recency
from qabot.search.retrieve import Mode, Retriever
from qabot.search.stories import one_per_story
from qabot.timeframe import find_window

__all__ = ["MAX_PASSAGES", "MAX_QUESTION_CHARS", "Qabot"]

MAX_QUESTION_CHARS = 2000
MAX_PASSAGES = 50  # how deep `k` and paging may reach into one answer

log = logging.getLogger(__name__)

_Parts = tuple[OpenIndex, Retriever, QuoteBuilder, Judge]


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
        self._parts: _Parts = (index, Retriever(index, self.embedder, s.fusion_weights, s.cosine_scale),
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
        self.index.lexical.prepare()
        self.ask("warm up", k=1)

    def ask(self, question: str, k: int | None = None, mode: Mode = "hybrid",
            offset: int = 0, filters: Filters | None = None) -> Answer:
        """Quotes that answer `question`, best first. Without `k` or `offset`, up to `top_k`
        passages, less those far weaker than the best (counted in `held_back`); with `k`, the
        best `k` there are, however weak; with `offset`, the `k` (or `top_k`) that follow the
        first `offset` (the REPL's `:more`; the bot's "More" re-ranks deeper and leaves out
        what overlaps what it showed). Unanswered when nothing in the corpus is relevant
        enough.

        A time the question names ("la semaine dernière") and `filters` restrict the articles
        searched; when none of those answers, the best answer from the others comes back,
        marked `outside_window`."""
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
        filters = filters or Filters()
        if filters.since and filters.until and filters.since > filters.until:
            raise QuestionError(f"since {filters.since} is after until {filters.until}: no "
                                "article can be both; swap them or drop one")
        timed = find_window(question, self.settings.current_day)
        named = timed.window
        if named is not None and named.empty:
            named = None  # two times that never meet ("le 14 juillet et le 15 août"): content
        window = filters.window(named)
        if window is not None and window.empty:
            assert named is not None
            raise QuestionError(f"the question names {named.text!r}, outside the days asked "
                                "for with since/until: drop one of them")
        explicit = k is not None or offset > 0
        k = min(k or self.settings.top_k, MAX_PASSAGES - offset)
        self.refresh()
        lang = question_language(question)
        parts = self._parts  # one index for the whole question, whatever updates land
        allowed = allowed_chunks(parts[0], window, filters.source)
        answer = None
        if allowed is None or allowed.any():
            answer = self._answer(parts, timed.question, lang, k, mode, offset, explicit,
                                  allowed, admits(window, filters.source))
        outside = False
        if allowed is not None and (answer is None or not answer.answered):
            # The time words may have been the question's content ("en 1998"): ask them too.
            answer = self._answer(parts, question, lang, k, mode, offset, explicit, None)
            outside = answer.answered
        assert answer is not None
        return replace(answer, question=question, window=window, source=filters.source,
                       outside_window=outside)

    def _answer(self, parts: _Parts, question: str, lang: str, k: int, mode: Mode,
                offset: int, explicit: bool, allowed: np.ndarray | None,
                inside: Callable[[Citation], bool] | None = None) -> Answer:
        index, retriever, quotes, judge = parts
        query = retriever.parse(question, lang, mode)
        found = retriever.candidates(query, max(50, 10 * (offset + k)), mode, allowed)
        want = offset + k
        while True:
            answer = quotes.answer(query, found.candidates, want)
            if not answer.passages:
                return answer
            passages = by_recency(answer.passages, self.settings.current_day,
                                  self.settings.recency_half_life_days)
            passages = one_per_story(passages, index.store, inside)
            # A story told by several articles shrinks to one passage: draft more to fill
            # the answer (never when no story repeats, so answers stay as they were).
            if (len(passages) >= offset + k or len(answer.passages) < want
                    or want >= MAX_PASSAGES):
                break
            want = min(MAX_PASSAGES, 2 * want)
        # Without a question vector (lexical mode) there is nothing to judge against: any
        # matching term answers.
        if query.vector is not None and found.best_cosine is not None and not judge.answers(
                query.vector, found.best_cosine, found.candidates[0].lexical,
                answer.passages[0].coverage):
            return Answer(query.text, False, query.lang, [])
        passages = passages[:offset + k]
        if explicit:
            return replace(answer, passages=passages[offset:])
        shown = worth_showing(passages, self.settings.show_ratio)
        return replace(answer, passages=shown, held_back=len(passages) - len(shown))

    def latest(self, n: int = 10, since: date | None = None) -> list[Story]:
        """The `n` newest stories (see `latest_stories`)."""
        self.refresh()
        return latest_stories(self.index.store, n, since.isoformat() if since else None)

    def stats(self) -> IndexStats:
        self.refresh()
        return IndexStats.from_meta(self.index.meta, self.index.path)

    def sources(self) -> list[Citation]:
        self.refresh()
        return self.index.store.citations()


