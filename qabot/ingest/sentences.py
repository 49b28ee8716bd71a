"""Sentence segmentation for French and English news text, with exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Iterator

from qabot.records import Sentence

__all__ = ["MAX_SENTENCE_CHARS", "SPLITTER_VERSION", "split_paragraphs", "split_sentences"]

# Bump whenever the same text would be split differently: indexes then split it again.
SPLITTER_VERSION = 1

#: Longer "sentences" (unpunctuated text, transcripts, lists) are cut at a clause or word
#: boundary, so that a quote can always show the part that matched.
MAX_SENTENCE_CHARS = 600


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Written here rather than taken from pysbd: pysbd splits French "Dr. House" and "U.S. Marines",
# is unmaintained since 2021 and costs ~0.5 ms a sentence; these rules are small and exact.

# Titles before a name: a capitalized word after them is the name, never a new sentence.
_TITLES = _set(
    "m mm mme mmes mlle mlles dr drs pr me mgr st ste mr mrs ms prof gen gén col cdt lt sgt "
    "capt gov sen rep rev hon sgt maj adm"
)
# Other abbreviations: a new sentence may follow them only if it opens with a function word.
_ABBREVIATIONS = _set(
    "etc cf vs env ex fig vol p pp ch art av bd no nos tel tél approx inc ltd co corp jr sr "
    "jan janv feb fév févr mar apr avr aug sep sept oct nov dec déc i.e e.g av. j.-c"
)
# Capitalized function words that open sentences in French and English news.
_STARTERS = _set(
    """le la les l un une des du de ce cet cette ces il ils elle elles on nous vous je mais et
    ou donc or ni car en dans sur pour par avec selon après avant depuis lors pendant quand si
    au aux son sa ses leur leurs mon ma mes cela ceci c qui que quoi comment pourquoi où ainsi
    toutefois cependant pourtant enfin puis alors
    the a an this that these those he she it they we you i but and or so yet in on at for by
    with after before since during when if his her its their our my there here what who why
    how where however meanwhile then also"""
)

# Blank lines, and a line break before a Markdown heading, list item or quote.
_PARA_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:#{1,6}\s|[-*•]\s|\d+[.)]\s|>))")
# French sets "»" off with a (narrow) space: "« Non. » Il partit."
_TERMINATOR = re.compile(r"(?:\.{3}|…|[.!?])+(?:[ \u00a0\u202f]?»|[\"”’)\]])*")
_WORD_BEFORE = re.compile(r"([\w.’'-]+)$")
_NEXT = re.compile(r"\s+([«\"“(\[—–-]?)\s*(\w*)")


def split_paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each non-blank paragraph, trimmed of surrounding whitespace."""
    pos = 0
    for m in _PARA_BREAK.finditer(text):
        yield from _heading_split(text, pos, m.start())
        pos = m.end()
    yield from _heading_split(text, pos, len(text))


def _heading_split(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """A Markdown heading line is a paragraph of its own, even without a blank line after it."""
    for s, e in _trimmed(text, start, end):
        newline = text.find("\n", s, e)
        if text.startswith("#", s) and newline != -1:
            yield from _trimmed(text, s, newline)
            yield from _trimmed(text, newline + 1, e)
        else:
            yield s, e


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentences; each `Sentence` spans `text[start:end]` exactly."""
    out: list[Sentence] = []
    for para, (p_start, p_end) in enumerate(split_paragraphs(text)):
        cuts = [*_boundaries(text, p_start, p_end), p_end]
        start = p_start
        for cut in cuts:
            for s, e in _trimmed(text, start, cut):
                for piece_start, piece_end in _pieces(text, s, e):
                    out.append(Sentence(len(out), piece_start, piece_end, para))
            start = cut
    return out


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long sentence after a semicolon, colon or comma, else between words."""
    while end - start > MAX_SENTENCE_CHARS:
        lo, hi = start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS
        cut = -1
        for mark in ("; ", ": ", ", ", " "):
            cut = text.rfind(mark, lo, hi)
            if cut != -1:
                cut += len(mark.rstrip())
                break
        if cut == -1:
            cut = hi  # one unbroken token: cut it anyway
        yield from _trimmed(text, start, cut)
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        yield start, end


def _boundaries(text: str, start: int, end: int) -> Iterator[int]:
    """Offsets inside one paragraph where a new sentence starts."""
    para = text[start:end]
    depth = _QuoteDepth(para)
    for m in _TERMINATOR.finditer(para):
        nxt = _NEXT.match(para, m.end())
        if nxt is None:
            continue  # end of paragraph or no whitespace after: "1.5", "»,"
        opener, word = nxt.group(1), nxt.group(2)
        if not opener and not (word[:1].isupper() or word[:1].isdigit()):
            continue
        if depth.inside(m.end()):
            continue
        if not _sentence_ends(para, m, word):
            continue
        yield start + nxt.start(1) if opener else start + nxt.start(2)


def _sentence_ends(para: str, m: re.Match[str], next_word: str) -> bool:
    punct = m.group(0).rstrip("»\"”’)] \u00a0\u202f")
    if punct != ".":
        return True  # "!", "?", "…", "..." and runs of them
    before = _WORD_BEFORE.search(para, 0, m.start())
    if before is None:
        return True
    word = before.group(1).lstrip("'’-")
    key = word.lower().rstrip(".")
    starter = next_word.lower() in _STARTERS
    if key in _TITLES:
        return False
    if key in _ABBREVIATIONS:
        return starter
    if len(word) == 1 and word.isalpha() and word.isupper():
        return starter  # an initial: "William B. Stevens"
    if "." in word and all(len(part) <= 2 for part in word.split(".") if part):
        return starter  # a dotted acronym: "U.S.", "U.S.A."
    return True


class _QuoteDepth:
    """Tells whether an offset lies inside a quotation, when the paragraph's quotes balance."""

    _PAIRS = (("«", "»"), ("“", "”"))

    def __init__(self, para: str) -> None:
        self._events: list[tuple[int, int]] = []
        for opening, closing in self._PAIRS:
            if para.count(opening) == para.count(closing) > 0:
                for i, ch in enumerate(para):
                    if ch == opening:
                        self._events.append((i, 1))
                    elif ch == closing:
                        self._events.append((i, -1))
        if para.count('"') % 2 == 0:
            inside = False
            for i, ch in enumerate(para):
                if ch == '"':
                    self._events.append((i, -1 if inside else 1))
                    inside = not inside
        self._events.sort()

    def inside(self, offset: int) -> bool:
        depth = 0
        for pos, delta in self._events:
            if pos >= offset:
                break
            depth += delta
        return depth > 0
