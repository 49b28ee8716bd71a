"""Feedback on answers (👍/👎), kept in SQLite beside the index generations so rebuilds keep it."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from qabot.index.store import read_only_uri

__all__ = ["FeedbackCounts", "FeedbackStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, chat_id INTEGER NOT NULL,
    user_id INTEGER, question TEXT NOT NULL, answer_ids TEXT NOT NULL, vote INTEGER NOT NULL
);
"""
# Added later: which answer a vote is about, so that a user has one vote per answer (a second
# click changes it). Votes stored before have none and are kept as they are.
_ANSWER_KEY = "ALTER TABLE feedback ADD COLUMN answer_key TEXT"
_ONE_VOTE = "CREATE UNIQUE INDEX IF NOT EXISTS one_vote ON feedback (answer_key, user_id)"
FILENAME = "feedback.sqlite"


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    up: int
    down: int


class FeedbackStore:
    """Append-only votes: the question, which passages were shown, +1 or -1, chat and time."""

    def __init__(self, index_dir: Path) -> None:
        Path(index_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(index_dir) / FILENAME
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(feedback)")}
        if "answer_key" not in columns:
            try:
                self._conn.execute(_ANSWER_KEY)
            except sqlite3.OperationalError:  # another process added it meanwhile
                pass
        # Every time: a process that died between the two statements left no index.
        self._conn.execute(_ONE_VOTE)
        self._conn.commit()
        self._lock = threading.Lock()

    def record(self, *, answer_key: str, chat_id: int, user_id: int, question: str,
               answer_ids: list[str], vote: int) -> bool:
        """Store a user's vote on an answer; True when it is their first on it (a later one
        replaces it)."""
        with self._lock, self._conn:
            first = self._conn.execute(
                "SELECT 1 FROM feedback WHERE answer_key = ? AND user_id = ?",
                (answer_key, user_id)).fetchone() is None
            self._conn.execute(
                "INSERT INTO feedback (time, chat_id, user_id, question, answer_ids, vote, "
                "answer_key) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (answer_key, user_id) "
                "DO UPDATE SET vote = excluded.vote, time = excluded.time",
                (time.time(), chat_id, user_id, question, json.dumps(answer_ids), vote,
                 answer_key),
            )
        return first

    def counts(self) -> FeedbackCounts:
        with self._lock:
            return _counts(self._conn)

    def close(self) -> None:
        self._conn.close()


def read_counts(index_dir: Path) -> FeedbackCounts | None:
    """Counts without creating anything; None when no vote was ever stored."""
    path = Path(index_dir) / FILENAME
    if not path.exists():
        return None
    conn = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        return _counts(conn)
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def _counts(conn: sqlite3.Connection) -> FeedbackCounts:
    up, down = conn.execute(
        "SELECT COALESCE(SUM(vote > 0), 0), COALESCE(SUM(vote < 0), 0) FROM feedback"
    ).fetchone()
    return FeedbackCounts(int(up), int(down))
