"""One story told once: what several articles of one story say alike is shown once, cited from
the article that said it first, with the story's other articles listed ("also reported by");
what a later article added is shown as its update."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from qabot.index.catalog import Catalog
from qabot.ingest.duplicates import overlap, shingles
from qabot.records import Citation, Passage

__all__ = ["MAX_ALSO", "REPEAT", "one_per_story"]

#: Other articles named under a quote; a story retold fifty times lists the first ten.
MAX_ALSO = 10
#: A quote sharing this much of its 5-word runs with one shown from its story repeats it
#: (an outlet's light edit of the same paragraph); grouping uses the same measure.
REPEAT = 0.5


def one_per_story(passages: list[Passage], store: Catalog,
                  admits: Callable[[Citation], bool] | None = None) -> list[Passage]:
    """Best first, as given, each quote cited from the oldest article that holds it word for
    word; a passage that repeats one already kept from its story (the same text, or nearly:
    an outlet's edit) is dropped, and what a later article added stays, marked an update. The
    story's first passage lists its other articles. A quote is only cited from an article
    that `admits` lets in (the window and source asked for)."""
    members: dict[str, list[Citation]] = {}
    # Each kept passage with its story and, once a later passage of its story asks, its
    # 5-word runs (most stories are told once: no runs computed for them).
    kept: list[tuple[str, Passage, list[frozenset[str]]]] = []
    for p in passages:
        story = p.citation.story
        if story is None:
            kept.append(("", p, []))
            continue
        if story not in members:
            members[story] = store.story_members(story)
        told = [(q, g) for s, q, g in kept if s == story]
        if len(members[story]) > 1:
            p = _attribute(p, members[story], store, first=not told, admits=admits)
        mine: list[frozenset[str]] = []
        # Paragraphs of one article that look alike are still each said once in it.
        if any(_same_text(p, q) or (q.citation.doc_id != p.citation.doc_id
                                    and overlap(_runs(p, mine), _runs(q, g)) >= REPEAT)
               for q, g in told):
            continue
        kept.append((story, p, mine))
    return [p for _, p, _ in kept]


def _runs(p: Passage, cache: list[frozenset[str]]) -> frozenset[str]:
    """The passage's 5-word runs, computed once into `cache` (empty until then)."""
    if not cache:
        cache.append(shingles(p.quote))
    return cache[0]


def _same_text(a: Passage, b: Passage) -> bool:
    return a.citation.doc_id == b.citation.doc_id and a.start < b.end and b.start < a.end


def _attribute(p: Passage, members: list[Citation], store: Catalog, *, first: bool,
               admits: Callable[[Citation], bool] | None) -> Passage:
    """Cite the oldest article that holds the quote word for word (among those `admits` lets
    in: when the passage's own article is not, the quote came through a copy that is, and is
    cited from it); when none older does and
    the first article does not say it in other words either, the quote is news a later
    article added: say it updates the story's first article."""
    core = store.document(p.citation.doc_id).text[p.start:p.end]
    mine = p.citation.published
    move = admits is not None and not admits(p.citation)
    for member in members:  # oldest first, undated last
        if (member.doc_id == p.citation.doc_id or (admits is not None and not admits(member))
                or not (move or _older(member.published, mine))):
            continue
        at = store.document(member.doc_id).text.find(core)
        if at >= 0:
            p = replace(p, citation=member, start=at, end=at + len(core))
            break
    oldest = members[0]
    update_of = None
    if (oldest.doc_id != p.citation.doc_id and _older(oldest.published, p.citation.published)
            and overlap(shingles(core), shingles(store.document(oldest.doc_id).text)) < REPEAT):
        # New facts, not the first article's sentences in an outlet's edit.
        update_of = oldest
    also = tuple(m for m in members if m.doc_id != p.citation.doc_id)[:MAX_ALSO] if first else ()
    return replace(p, also=also, update_of=update_of)


def _older(a: str | None, b: str | None) -> bool:
    """Whether day `a` is before day `b`; an undated article is older than none."""
    return a is not None and (b is None or a < b)
