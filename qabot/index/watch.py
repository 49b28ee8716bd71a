"""`qabot index --watch`: update the index when the corpus folder changes, debounced."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from qabot.config import Settings
from qabot.errors import CorpusError, QabotError

__all__ = ["watch_corpus"]

DEBOUNCE_SECONDS = 1.0  # a batch of files copied at once makes one update
_CHANGES = {"created", "modified", "deleted", "moved", "closed"}


def watch_corpus(settings: Settings, update: Callable[[], None],
                 stop: threading.Event | None = None) -> None:
    """Call `update` now, then after every change settles, until Ctrl-C (or `stop` is set).

    The watch starts before the first update, so nothing written meanwhile is missed."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    changed = threading.Event()

    class _Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            # Reads ("opened", "closed_no_write") are our own update reading the corpus.
            if event.event_type not in _CHANGES:
                return
            paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
            if any(p and not p.rsplit("/", 1)[-1].startswith(".") for p in paths):
                changed.set()

    if not settings.corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {settings.corpus_dir} does not exist: create it, "
                          "or set QABOT_CORPUS_DIR")
    stop = stop or threading.Event()
    observer = Observer()
    observer.schedule(_Handler(), str(settings.corpus_dir), recursive=True)
    observer.start()
    print(f"Watching {settings.corpus_dir} for changes; Ctrl-C stops.", file=sys.stderr,
          flush=True)
    try:
        _try(update)
        while not stop.is_set():
            if not changed.wait(timeout=0.2):
                continue
            while changed.is_set():  # wait for quiet
                changed.clear()
                time.sleep(DEBOUNCE_SECONDS)
            _try(update)
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join()


def _try(update: Callable[[], None]) -> None:
    try:
        update()
    except QabotError as exc:  # an empty or broken corpus now may be fixed by the next change
        print(f"qabot: {exc}", file=sys.stderr, flush=True)
