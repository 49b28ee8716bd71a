"""Filters: which chunks a question may be answered from (a publication window, a source)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import numpy as np

from qabot.errors import QuestionError
from qabot.index.open import UNDATED, OpenIndex, day_number
from qabot.index.store import DocumentFacts
from qabot.records import Citation
from qabot.timeframe import Window, parse_day

__all__ = ["Filters", "admits", "allowed_chunks", "source_matches", "take_filter_words"]

# `since:2025-07-01`, `until:2025-07-31`, `source:"Le Monde"` (French: depuis:, jusqu'au:),
# before the question, the colon against the word: "Quelle source : le ministère ?" is a
# question, not a filter.
_FILTER_WORD = re.compile(
    r"\s*(?P<key>since|until|source|depuis|jusqu['’]au):"
    r"(?:\"(?P<quoted>[^\"]*)\"|«\s*(?P<guillemets>[^»]*?)\s*»|(?P<bare>\S+))(?=\s|$)",
    re.IGNORECASE)
_KEYS = {"since": "since", "depuis": "since", "until": "until", "source": "source"}


@dataclass(frozen=True, slots=True)
class Filters:
    """What the user asked to search in, besides what the question's own words say: articles
    published from `since` to `until` (inclusive), from a `source`."""

    since: date | None = None
    until: date | None = None
    source: str | None = None

    def window(self, named: Window | None) -> Window | None:
        """The window to search: the question's (`named`) within the explicit one."""
        explicit = Window(self.since, self.until) if self.since or self.until else None
        if named is not None and explicit is not None:
            return named.intersect(explicit)
        return named or explicit


def take_filter_words(text: str) -> tuple[Filters, str]:
    """Filters written at the start of a message (the bot's way to say --since, --until,
    --source), and the message without them. A day that cannot be read is one line."""
    values: dict[str, str] = {}
    at = 0
    while m := _FILTER_WORD.match(text, at):
        value = next(v for v in (m["quoted"], m["guillemets"], m["bare"]) if v is not None)
        values[_KEYS.get(m["key"].lower(), "until")] = value.strip()
        at = m.end()
    rest = " ".join(text[at:].split())
    days: dict[str, date | None] = {}
    for key in ("since", "until"):
        value = values.get(key)
        try:
            days[key] = parse_day(value) if value else None
        except ValueError as exc:
            raise QuestionError(f"{key}:{value}: {exc}") from None
    return Filters(days["since"], days["until"], values.get("source") or None), rest


def allowed_chunks(index: OpenIndex, window: Window | None, source: str | None) -> np.ndarray | None:
    """By chunk id, whether the chunk's article is inside the window and from the source;
    None when nothing restricts the search. An exact copy has no chunks of its own: when it
    is inside, its original's chunks are (and the quote is cited from the copy, see
    `stories`)."""
    if window is None and not source:
        return None
    docs = index.documents
    inside = np.ones(len(docs.row), dtype=bool)
    if window is not None:
        inside &= docs.day != UNDATED
        if window.since is not None:
            inside &= docs.day >= day_number(window.since)
        if window.until is not None:
            inside &= docs.day <= day_number(window.until)
    if source:
        inside &= np.fromiter((source_matches(f, source) for f in docs.facts), dtype=bool,
                              count=len(docs.facts))
    return np.isin(index.spans.doc, docs.original[inside])


def admits(window: Window | None,
           source: str | None) -> Callable[[Citation | DocumentFacts], bool] | None:
    """Whether an article is inside the window and from the source (None: no restriction)."""
    if window is None and not source:
        return None

    def inside(c: Citation | DocumentFacts) -> bool:
        if window is not None and (c.published is None
                                   or not window.contains(date.fromisoformat(c.published))):
            return False
        return not source or source_matches(c, source)

    return inside


def source_matches(doc: DocumentFacts | Citation, source: str) -> bool:
    """Whether `source` names the article's outlet: part of its source name or of its URL's
    host, ignoring case ("monde" finds "Le Monde" and lemonde.fr)."""
    needle = source.casefold().strip()
    if not needle:
        return True
    try:
        host = urlsplit(doc.url).hostname or "" if doc.url else ""
    except ValueError:  # a malformed URL in the corpus ("http://[abc")
        host = ""
    return needle in (doc.source or "").casefold() or needle in host.casefold()
