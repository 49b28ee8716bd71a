"""Who may ask, and how fast: the allowlist and a per-user sliding-window rate limit."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["Allowlist", "RateLimiter"]


class Allowlist:
    """Empty means everyone; otherwise a chat or user id must be listed."""

    def __init__(self, ids: Iterable[int]) -> None:
        self._ids = frozenset(ids)
        self._refused: set[int] = set()

    def allows(self, chat_id: int | None, user_id: int | None) -> bool:
        return not self._ids or chat_id in self._ids or user_id in self._ids

    def first_refusal(self, chat_id: int) -> bool:
        """True the first time a chat is refused: it gets one polite answer, then silence."""
        if chat_id in self._refused:
            return False
        self._refused.add(chat_id)
        return True


class RateLimiter:
    """At most `limit` questions per user in any `window` seconds; each user is counted alone,
    so one user's flood costs the others nothing."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}

    def wait(self, user_id: int) -> float:
        """0 when the question may go ahead (and it is counted), else seconds to wait."""
        now = self._clock()
        stamps = self._seen.setdefault(user_id, deque())
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if len(stamps) >= self.limit:
            return stamps[0] + self.window - now
        stamps.append(now)
        return 0.0
