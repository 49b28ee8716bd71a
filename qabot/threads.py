"""Thread pools a question runs beside its own thread, started on first use: a one-shot
`qabot ask` that never needs one never starts it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["LazyPool"]


class LazyPool:
    """A `ThreadPoolExecutor` of `threads` threads named `name`, made on the first `get`."""

    def __init__(self, threads: int, name: str,
                 initializer: Callable[[], None] | None = None) -> None:
        self._args = (threads, name, initializer)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                threads, name, initializer = self._args
                self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name,
                                                initializer=initializer)
            return self._pool
