"""Filters: which chunks a question may be answered from (a publication window, a source)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import numpy as np

from qabot.errors import QabotError
from qabot.index.open import UNDATED, OpenIndex, day_number
from qabot.index.store import DocumentFacts
from qabot.records import Citation
from qabot.timeframe import Window, parse_day

__all__ = ["Filters", "admits", "allowed_chunks", "source_matches", "take_filter_words"]

# `since:2025-07-01`, `until:2025-07-31`, `source:"Le Monde"` (French: depuis:, jusqu'au:).
_FILTER_WORD = re.compile(
    r"(?<!\S)(?P<key>since|until|source|depuis|jusqu['’]au)\s*:\s*"
    r"(?:\"(?P<quoted>[^\"]*)\"|«\s*(?P<guillemets>[^»]*?)\s*»|(?P<bare>\S+))",
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
    """Filters written in a message (the bot's way to say --since, --until, --source), and
    the message without them. A day that cannot be read is one QabotError line."""
    values: dict[str, str] = {}

    def take(m: re.Match[str]) -> str:
        value = next(v for v in (m["quoted"], m["guillemets"], m["bare"]) if v is not None)
        values[_KEYS.get(m["key"].lower(), "until")] = value.strip()
        return " "

    rest = " ".join(_FILTER_WORD.sub(take, text).split())
    days: dict[str, date | None] = {}
    for key in ("since", "until"):
        value = values.get(key)
        try:
            days[key] = parse_day(value) if value else None
        except ValueError as exc:
            raise QabotError(f"{key}:{value}: {exc}") from None
    return Filters(days["since"], days["until"], values.get("source") or None), rest


def allowed_chunks(index: OpenIndex, window: Window | None, source: str | None) -> np.ndarray | None:
    """By chunk id, whether the chunk's article is inside the window and from the source;
    None when nothing restricts the search."""
    if window is None and not source:
        return None
    spans = index.spans
    mask = np.ones(len(spans.day), dtype=bool)
    if window is not None:
        mask &= spans.day != UNDATED
        if window.since is not None:
            mask &= spans.day >= day_number(window.since)
        if window.until is not None:
            mask &= spans.day <= day_number(window.until)
    if source:
        matching = [d for d in index.documents if source_matches(d, source)]
        # An exact copy has no text of its own indexed: its original's stands for it.
        ids = {d.duplicate_of or d.doc_id for d in matching}
        rows = [d.row for d in index.documents if d.doc_id in ids]
        mask &= np.isin(spans.doc, np.array(rows, dtype=np.int64))
    return mask


def admits(window: Window | None, source: str | None) -> Callable[[Citation], bool] | None:
    """Whether an article is inside the window and from the source (None: no restriction),
    for what is cited after retrieval (a story's other articles)."""
    if window is None and not source:
        return None

    def inside(c: Citation) -> bool:
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
    host = urlsplit(doc.url).hostname or "" if doc.url else ""
    return needle in (doc.source or "").casefold() or needle in host.casefold()
