"""Who may ask, and how fast: the allowlist and a per-user sliding-window rate limit."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

__all__ = ["Allowlist", "RateLimiter"]

# Both maps grow with every new user; past this many, the least recently seen is forgotten
# (a refused chat may then hear the refusal once more; a forgotten user's old questions no
# longer count, but only one idle for longer than anyone else).
MAX_TRACKED = 10_000


class Allowlist:
    """Empty means everyone; otherwise a chat or user id must be listed."""

    def __init__(self, ids: Iterable[int], max_tracked: int = MAX_TRACKED) -> None:
        self._ids = frozenset(ids)
        self._refused: OrderedDict[int, None] = OrderedDict()
        self._max = max_tracked

    @property
    def restricted(self) -> bool:
        """Whether only listed chats and users may ask."""
        return bool(self._ids)

    def allows(self, chat_id: int | None, user_id: int | None) -> bool:
        return not self._ids or chat_id in self._ids or user_id in self._ids

    def first_refusal(self, chat_id: int) -> bool:
        """True the first time a chat is refused: it gets one polite answer, then silence."""
        if chat_id in self._refused:
            self._refused.move_to_end(chat_id)
            return False
        self._refused[chat_id] = None
        if len(self._refused) > self._max:
            self._refused.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._refused)


class RateLimiter:
    """At most `limit` questions per user in any `window` seconds; each user is counted alone,
    so one user's flood costs the others nothing."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 max_tracked: int = MAX_TRACKED) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: OrderedDict[int, deque[float]] = OrderedDict()
        self._max = max_tracked

    def wait(self, user_id: int) -> float:
        """0 when the question may go ahead (and it is counted), else seconds to wait."""
        now = self._clock()
        stamps = self._seen.setdefault(user_id, deque())
        self._seen.move_to_end(user_id)
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if len(stamps) >= self.limit:
            return stamps[0] + self.window - now
        stamps.append(now)
        return 0.0

    def __len__(self) -> int:
        return len(self._seen)
