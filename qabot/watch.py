"""`qabot index --watch`: update the index when the corpus folder changes, debounced."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from qabot.config import Settings
from qabot.errors import QabotError

__all__ = ["watch_corpus"]

log = logging.getLogger(__name__)
DEBOUNCE_SECONDS = 1.0  # a batch of files copied at once makes one update


def watch_corpus(settings: Settings, update: Callable[[], None],
                 stop: threading.Event | None = None) -> None:
    """Call `update` after changes settle, until Ctrl-C (or `stop` is set)."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    changed = threading.Event()

    class _Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            name = str(event.src_path).rsplit("/", 1)[-1]
            if event.event_type != "opened" and not name.startswith("."):
                changed.set()

    stop = stop or threading.Event()
    observer = Observer()
    observer.schedule(_Handler(), str(settings.corpus_dir), recursive=True)
    observer.start()
    try:
        while not stop.is_set():
            if not changed.wait(timeout=0.2):
                continue
            while changed.is_set():  # wait for quiet
                changed.clear()
                time.sleep(DEBOUNCE_SECONDS)
            try:
                update()
            except QabotError as exc:  # a bad corpus state now may be fixed by the next change
                log.error("%s", exc)
                print(f"qabot: {exc}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join()
