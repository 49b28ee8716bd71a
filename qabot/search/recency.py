"""Recency: among passages that answer about equally well, the newer article first."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from qabot.records import Passage

__all__ = ["RECENCY_WEIGHT", "by_recency", "recency_boost"]

#: The most a passage's score (0 to 1) gains from being new: an older passage that scores
#: more than this above a newer one keeps its place. Chosen as about the 10th percentile of
#: the gap between the first and second passages' scores on PIAF dev (`bench/recency.py`),
#: so that the prior settles near-ties and leaves clear answers alone.
RECENCY_WEIGHT = 0.02


def recency_boost(published: str | None, today: date, half_life_days: float) -> float:
    """`RECENCY_WEIGHT` for an article of today, halving every `half_life_days`; nothing for
    an undated article or when the prior is off (0)."""
    if half_life_days <= 0 or not published:
        return 0.0
    age = max(0, (today - date.fromisoformat(published)).days)
    return RECENCY_WEIGHT * 0.5 ** (age / half_life_days)


def by_recency(passages: list[Passage], today: date, half_life_days: float) -> list[Passage]:
    """The passages with their boost added to their score, best first."""
    if half_life_days <= 0:
        return passages
    boosted = [replace(p, score=p.score + recency_boost(p.citation.published, today,
                                                         half_life_days))
               for p in passages]
    return sorted(boosted, key=lambda p: -p.score)  # stable: equal scores keep their order
