"""Answers: the best sentence of each top chunk, widened into a short verbatim quote with its citation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qabot.index.open import OpenIndex
from qabot.index.store import StoredSentence
from qabot.records import Answer, Passage
from qabot.search.question import Query
from qabot.search.retrieve import Candidate, on_scale

__all__ = ["MAX_SENTENCES", "QuoteBuilder", "worth_showing"]

#: Sentences a quote may hold; in practice `max_quote_chars` and the paragraph bound it first.
MAX_SENTENCES = 12
_ELLIPSIS = "…"
#: A chunk's other paragraphs get a draft of their own, at a small discount: it keeps the
#: chunk's best quote first, and brings the other paragraph into the top five when it answers
#: (PIAF dev: hit@5 0.870 -> 0.880, hit@1 unchanged).
OTHER_PARAGRAPH_FACTOR = 0.9
#: Chunks quotes are drafted from, at least. The same pool for every k up to 5, so that an
#: answer's first passages do not depend on how many were asked for (a default answer is a
#: prefix of a -k 5 one, which is how `qabot eval` measures what the default shows).
POOL = 15
#: How much a sentence's closeness in meaning to the question (its cosine on the model's
#: scale, 0 to 1) adds to the share of question terms it holds when the sentence to mark is
#: chosen. With e5, PIAF dev: the answer's sentence is picked in its paragraph 0.69 of the time
#: against 0.66 on terms alone; a fitted mix of nine signals did no better.
SENTENCE_MEANING_WEIGHT = 0.3


@dataclass(slots=True)
class _Draft:
    doc_id: str
    first: int  # sentence ordinals, inclusive
    last: int
    best: int
    score: float
    sentences: dict[int, StoredSentence]
    coverage: float  # share of the question's terms the quote holds


class QuoteBuilder:
    """Turns ranked chunks into merged, non-overlapping passages."""

    def __init__(self, index: OpenIndex, *, max_chars: int, quote_weight: float,
                 cosine_scale: tuple[float, float]) -> None:
        self.index = index
        self.cosine_scale = cosine_scale
        self.max_chars = max_chars
        self.quote_weight = quote_weight

    def answer(self, query: Query, candidates: list[Candidate], k: int) -> Answer:
        """Up to `k` passages; a passage's score mixes its chunk's retrieval score with how well
        the quote itself covers the question, so the quote shown is the one that answers."""
        gamma = self.quote_weight
        drafts: list[_Draft] = []
        pool = candidates[: max(POOL, 3 * k)]
        # What a quote of a chunk may hold: it holds a sentence of the chunk and spans at most
        # `max_chars`, so no sentence of it starts more than that before the chunk, or ends
        # more than that after it (and it holds at most MAX_SENTENCES); it stays in the
        # paragraph of its best sentence, one of the chunk's (at 3M sentences, 90 sentences
        # read a question, against 204 in those bounds but the paragraphs). Past those, only
        # the nearest sentence on each side is read, for the ellipsis.
        found = self.index.store.quote_sentences([c.chunk_id for c in pool], MAX_SENTENCES,
                                                 self.max_chars)
        pool = [c for c in pool if c.chunk_id in found]
        stored = {c.chunk_id: found[c.chunk_id][0] for c in pool}
        arounds = [{s.sentence.ordinal: s for s in found[c.chunk_id][1]} for c in pool]
        nears = self._sentence_similarity(query, [(c.chunk_id, stored[c.chunk_id].first, a)
                                                  for c, a in zip(pool, arounds, strict=True)])
        for cand, around, near in zip(pool, arounds, nears, strict=True):
            chunk = stored[cand.chunk_id]
            covered: dict[int, float] = {}  # asked for several times per sentence

            def cover(ordinal: int, around: dict[int, StoredSentence] = around,
                      near: dict[int, float] = near, covered: dict[int, float] = covered) -> float:
                if ordinal not in covered:
                    covered[ordinal] = (query.sentence_score(set(around[ordinal].terms))
                                        + SENTENCE_MEANING_WEIGHT * near.get(ordinal, 0.0))
                return covered[ordinal]

            paragraphs: dict[int, list[int]] = {}
            for o in range(chunk.first, chunk.last + 1):
                paragraphs.setdefault(around[o].sentence.para, []).append(o)
            top = max(range(chunk.first, chunk.last + 1), key=lambda o: (cover(o), -o))
            for ordinals in paragraphs.values():
                best = max(ordinals, key=lambda o: (cover(o), -o))
                first, last = self._widen(best, around, cover)
                window = query.coverage(
                    {t for o in range(first, last + 1) for t in around[o].terms})
                score = (1 - gamma) * cand.score + gamma * window
                if best != top:
                    score *= OTHER_PARAGRAPH_FACTOR
                drafts.append(_Draft(chunk.doc_id, first, last, best, score, around, window))
        drafts.sort(key=lambda d: -d.score)
        kept = _merge(drafts, self._fits)[:k]
        passages = [self._passage(d) for d in kept]
        return Answer(query.text, bool(passages), query.lang, passages)

    def _sentence_similarity(self, query: Query,
                             chunks: list[tuple[int, int, dict[int, StoredSentence]]]
                             ) -> list[dict[int, float]]:
        """For each (chunk id, its first ordinal, the sentences around it): closeness in meaning
        of the question to each of those sentences (its cosine on the model's scale, 0 to 1),
        by ordinal; empty when the mode does not embed the question. One read of the vectors
        for all the chunks."""
        if query.vector is None:
            return [{} for _ in chunks]
        keys: list[list[int]] = []
        ids: list[int] = []
        for chunk_id, first, around in chunks:
            base = int(self.index.spans.first[chunk_id]) - first  # dense id of sentence 0
            ordinals = sorted(around)
            keys.append(ordinals)
            ids.extend(base + o for o in ordinals)
        sims = self.index.dense.similarity(query.vector, np.array(ids, dtype=np.int64))
        scaled = on_scale(sims, self.cosine_scale).tolist()
        out, at = [], 0
        for ordinals in keys:
            out.append(dict(zip(ordinals, scaled[at:at + len(ordinals)], strict=True)))
            at += len(ordinals)
        return out

    def _span_chars(self, around: dict[int, StoredSentence], first: int, last: int) -> int:
        return around[last].sentence.end - around[first].sentence.start

    def _fits(self, sentences: dict[int, StoredSentence], first: int, last: int) -> bool:
        """Whether sentences first..last make one quote: few enough, short enough, one paragraph."""
        head, tail = sentences.get(first), sentences.get(last)
        return (last - first + 1 <= MAX_SENTENCES and head is not None and tail is not None
                and head.sentence.para == tail.sentence.para
                and self._span_chars(sentences, first, last) <= self.max_chars)

    def _widen(self, best: int, around: dict[int, StoredSentence],
               cover: Callable[[int], float]) -> tuple[int, int]:
        """Grow around the best sentence, within its paragraph, towards the better neighbour."""
        para = around[best].sentence.para
        first = last = best
        while last - first + 1 < MAX_SENTENCES:
            options = []
            for o in (last + 1, first - 1):  # after first: it usually carries the answer on
                s = around.get(o)
                if s is None or s.sentence.para != para:
                    continue
                lo, hi = min(first, o), max(last, o)
                if self._span_chars(around, lo, hi) <= self.max_chars:
                    options.append((cover(o), -abs(o - best), o))
            if not options:
                break
            o = max(options)[2]
            first, last = min(first, o), max(last, o)
        return first, last

    def _passage(self, d: _Draft) -> Passage:
        # Read only now: of the 15 or more articles drafted from, a few are quoted.
        text = self.index.store.document(d.doc_id).text
        start, end = d.sentences[d.first].sentence.start, d.sentences[d.last].sentence.end
        best = d.sentences[d.best].sentence
        para = best.para
        quote = text[start:end]
        hl_start, hl_end = best.start - start, best.end - start
        if len(quote) > self.max_chars:  # one sentence longer than a quote may be
            cut = _cut_at_word(quote, self.max_chars - 1)
            quote = quote[:cut] + _ELLIPSIS
            hl_end = min(hl_end, cut)
        highlight = quote[hl_start:hl_end]
        before = d.sentences.get(d.first - 1)
        after = d.sentences.get(d.last + 1)
        if before is not None and before.sentence.para == para:
            quote, hl_start = f"{_ELLIPSIS} {quote}", hl_start + 2
        if (after is not None and after.sentence.para == para) and not quote.endswith(_ELLIPSIS):
            quote = f"{quote} {_ELLIPSIS}"
        citation = self.index.store.citation(d.doc_id)
        return Passage(quote, highlight, citation, d.score, start, end, hl_start, d.coverage)


def _merge(drafts: list[_Draft],
           fits: Callable[[dict[int, StoredSentence], int, int], bool]) -> list[_Draft]:
    """Join passages of one article that overlap or touch when the union still fits a quote;
    otherwise drop the weaker of two overlapping ones."""
    kept: list[_Draft] = []
    for d in drafts:
        for i, k in enumerate(kept):
            if k.doc_id != d.doc_id:
                continue
            overlap = d.first <= k.last and k.first <= d.last
            if not overlap and d.first != k.last + 1 and k.first != d.last + 1:
                continue
            lo, hi = min(k.first, d.first), max(k.last, d.last)
            sentences = {**d.sentences, **k.sentences}
            if fits(sentences, lo, hi):
                kept[i] = _Draft(k.doc_id, lo, hi, k.best, k.score, sentences,
                                 max(k.coverage, d.coverage))
                break
            if overlap:
                break
        else:
            kept.append(d)
    return kept


def _cut_at_word(text: str, limit: int) -> int:
    space = text.rfind(" ", 0, limit)
    return space if space > limit // 2 else limit


def worth_showing(passages: list[Passage], ratio: float) -> list[Passage]:
    """The passages a default answer shows: those scoring at least `ratio` times the best one
    (passages come best first, so this is a prefix)."""
    if not passages:
        return []
    floor = ratio * passages[0].score
    return [p for p in passages if p.score >= floor]
