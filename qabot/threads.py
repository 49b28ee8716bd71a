"""Thread pools a question runs beside its own thread, started on first use: a one-shot
`qabot ask` that never needs one never starts it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["LazyPool", "Split"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Split(Generic[R]):
    """Work cut into tasks that any thread may run, in any order, and how their results (in
    the tasks' order) make its answer."""

    tasks: Sequence[Callable[[], Any]]
    finish: Callable[[list[Any]], R]

    def run(self) -> R:
        """On this thread alone."""
        return self.finish([task() for task in self.tasks])


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

    def share(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        """The tasks' results, in order: this thread and the pool's take the next task left,
        in order, until none is, each task run once. When the pool is busy (another
        question's work), this thread runs them all. An error in a task is raised here once
        the others are done; Ctrl-C (or any BaseException) on this thread, at once."""
        if len(tasks) < 2:
            return [task() for task in tasks]
        lock = threading.Lock()
        taken = [0]
        done = [threading.Event() for _ in tasks]
        results: list[T | None] = [None] * len(tasks)
        errors: list[BaseException | None] = [None] * len(tasks)
        asking = threading.current_thread()

        def work() -> None:
            while True:
                with lock:
                    i = taken[0]
                    if i == len(tasks):
                        return
                    taken[0] += 1
                try:
                    results[i] = tasks[i]()
                except BaseException as exc:  # raised again on the asking thread
                    errors[i] = exc
                    if threading.current_thread() is asking and not isinstance(exc, Exception):
                        raise
                finally:
                    done[i].set()

        pool = self.get()
        for _ in range(self._args[0]):
            pool.submit(work)
        work()
        for i, event in enumerate(done):
            event.wait()
            if errors[i] is not None:
                raise errors[i]  # type: ignore[misc]
        return results  # type: ignore[return-value]

    def run(self, *splits: Split[Any]) -> list[Any]:
        """The splits' answers, their tasks shared (`share`) between this thread and the
        pool's, all at once. (Ordering the tasks by their likely cost, or taking them in turn
        from each split, made no difference at 3M sentences: the segments cost about the
        same.)"""
        found = self.share([task for split in splits for task in split.tasks])
        answers, at = [], 0
        for split in splits:
            answers.append(split.finish(found[at:at + len(split.tasks)]))
            at += len(split.tasks)
        return answers
